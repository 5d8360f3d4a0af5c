// Image commands: images (docker's imageFormat row expansion of RepoTags/RepoDigests), tag,
// rmi, history, pull, import, save, load and image prune; long operations show the daemon's
// JSON progress stream.
#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <map>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/jsonmessage.h"
#include "cli/stream.h"
#include "cli/table.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

constexpr const char* kDefaultImagesFormat =
    "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}";
constexpr const char* kDigestsImagesFormat =
    "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}";

std::pair<std::string, std::string> split_tag(const std::string& ref) {
  const auto colon = ref.rfind(':');
  const auto slash = ref.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {ref, ""};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

Value image_row(const Value& img, const std::string& repo, const std::string& tag,
                const std::string& digest, bool trunc, int64_t now) {
  Value r = Value::object();
  const int64_t created = img.value("Created", int64_t{0});
  const int64_t size = img.value("Size", int64_t{0});
  const int64_t shared = img.value("SharedSize", int64_t{-1});
  const int64_t containers = img.value("Containers", int64_t{-1});
  r["Containers"] = containers == -1 ? "N/A" : std::to_string(containers);
  r["CreatedAt"] = go_time_string(created);
  r["CreatedSince"] = human_duration(now - created) + " ago";
  r["Digest"] = digest;
  const std::string id = img.value("Id", "");
  r["ID"] = trunc ? truncate_id(id) : id;
  r["Repository"] = repo;
  r["SharedSize"] = shared == -1 ? "N/A" : human_size(static_cast<double>(shared), 3);
  r["Size"] = human_size(static_cast<double>(size), 3);
  r["Tag"] = tag;
  r["UniqueSize"] = shared == -1 ? "N/A" : human_size(static_cast<double>(size - shared), 3);
  r["VirtualSize"] = human_size(static_cast<double>(img.value("VirtualSize", size)), 3);
  return r;
}

Value image_header() {
  return Value{{"ID", "IMAGE ID"},
               {"Repository", "REPOSITORY"},
               {"Tag", "TAG"},
               {"Digest", "DIGEST"},
               {"CreatedSince", "CREATED"},
               {"CreatedAt", "CREATED AT"},
               {"Size", "SIZE"},
               {"Containers", "CONTAINERS"},
               {"VirtualSize", "VIRTUAL SIZE"},
               {"SharedSize", "SHARED SIZE"},
               {"UniqueSize", "UNIQUE SIZE"}};
}

// docker's image list expansion: one row per repo:tag (per digest with --digests), digest-only
// references get "<none>" tags, untagged images one "<none> <none>" row.
std::vector<Value> image_rows(const Value& images, bool digests, bool trunc, int64_t now) {
  std::vector<Value> rows;
  for (const auto& img : images) {
    std::vector<std::string> repo_order;
    std::map<std::string, std::vector<std::string>> tags, dgsts;
    if (img.contains("RepoTags") && img["RepoTags"].is_array()) {
      for (const auto& t : img["RepoTags"]) {
        const std::string s = t.get<std::string>();
        if (s == "<none>:<none>") continue;
        auto [repo, tag] = split_tag(s);
        if (!tags.count(repo)) repo_order.push_back(repo);
        tags[repo].push_back(tag);
      }
    }
    std::vector<std::string> digest_order;
    if (img.contains("RepoDigests") && img["RepoDigests"].is_array()) {
      for (const auto& d : img["RepoDigests"]) {
        const std::string s = d.get<std::string>();
        if (s == "<none>@<none>") continue;
        const auto at = s.find('@');
        if (at == std::string::npos) continue;
        const std::string repo = s.substr(0, at);
        if (!dgsts.count(repo)) digest_order.push_back(repo);
        dgsts[repo].push_back(s.substr(at + 1));
      }
    }
    for (const auto& repo : repo_order) {
      std::vector<std::string> ds = dgsts[repo];
      dgsts.erase(repo);
      if (!digests) ds.clear();
      for (const auto& tag : tags[repo]) {
        if (ds.empty()) {
          rows.push_back(image_row(img, repo, tag, "<none>", trunc, now));
          continue;
        }
        for (const auto& d : ds) rows.push_back(image_row(img, repo, tag, d, trunc, now));
      }
    }
    for (const auto& repo : digest_order) {
      if (!dgsts.count(repo)) continue;
      if (digests) {
        for (const auto& d : dgsts[repo])
          rows.push_back(image_row(img, repo, "<none>", d, trunc, now));
      } else {
        rows.push_back(image_row(img, repo, "<none>", "<none>", trunc, now));
      }
    }
    if (repo_order.empty() && digest_order.empty())
      rows.push_back(image_row(img, "<none>", "<none>", "<none>", trunc, now));
  }
  return rows;
}

Result<UniqueFd> open_output(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return errno_error("open " + path);
  return fd;
}

Result<void> stream_to_fd(http::BodyStream& s, int fd) {
  while (true) {
    ASSIGN_OR_RETURN(std::string chunk, s.read_some());
    if (chunk.empty()) return {};
    TRY(write_all(fd, chunk));
  }
}

std::function<Result<size_t>(char*, size_t)> fd_reader(int fd) {
  return [fd](char* buf, size_t len) -> Result<size_t> {
    while (true) {
      const ssize_t n = ::read(fd, buf, len);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error("read");
      return static_cast<size_t>(n);
    }
  };
}

std::string prune_report(const Value& j, const char* deleted_key, const char* title) {
  std::string text;
  if (j.contains(deleted_key) && j[deleted_key].is_array() && !j[deleted_key].empty()) {
    text += std::string(title) + ":\n";
    for (const auto& e : j[deleted_key]) {
      if (e.is_string()) {
        text += e.get<std::string>() + "\n";
      } else if (e.is_object()) {
        if (e.contains("Untagged")) text += "untagged: " + e.value("Untagged", "") + "\n";
        if (e.contains("Deleted")) text += "deleted: " + e.value("Deleted", "") + "\n";
      }
    }
    text += "\n";
  }
  return text;
}

}  // namespace

Status cmd_images(Cli& cli, const Args& args) {
  bool all = false, quiet = false, no_trunc = false, digests = false;
  std::string format, repo;
  std::vector<std::string> filters;
  CLI::App app("List images", "images");
  setup_app(app);
  app.add_flag("-a,--all", all, "Show all images (default hides intermediate images)");
  app.add_flag("-q,--quiet", quiet, "Only show image IDs");
  app.add_flag("--no-trunc", no_trunc, "Don't truncate output");
  app.add_flag("--digests", digests, "Show digests");
  app.add_option("--format", format, "Format output using a custom template");
  app.add_option("-f,--filter", filters, "Filter output based on conditions provided")
      ->allow_extra_args(false);
  app.add_option("repository", repo);
  if (auto st = parse_args(app, args)) return *st;
  if (!repo.empty()) filters.push_back("reference=" + repo);
  auto fj = filters_json(filters);
  if (!fj) return fail(fj.error());
  auto list = cli.get_json("/images/json" + http::query_string({{"all", all ? "1" : ""},
                                                                {"filters", *fj},
                                                                {"digests", digests ? "1" : ""}}));
  if (!list) return fail(list.error());
  RowFormat f;
  f.header = image_header();
  if (quiet) {
    f.format = "{{.ID}}";
  } else if (!format.empty()) {
    f.format = format == "json" ? "{{json .}}" : format == "table" ? kDefaultImagesFormat : format;
  } else {
    f.format = digests ? kDigestsImagesFormat : kDefaultImagesFormat;
  }
  // --format with {{.Digest}} shows digests like --digests.
  if (format.find(".Digest") != std::string::npos) digests = true;
  auto rows = image_rows(*list, digests, !no_trunc, static_cast<int64_t>(std::time(nullptr)));
  auto text = render_rows(f, rows);
  if (!text) return fail(text.error());
  out(*text);
  return ok();
}

Status cmd_tag(Cli& cli, const Args& args) {
  std::string source, target;
  CLI::App app("Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", "tag");
  setup_app(app);
  app.add_option("source", source)->required();
  app.add_option("target", target)->required();
  if (auto st = parse_args(app, args)) return *st;
  auto [repo, tag] = split_tag(target);
  if (tag.empty()) tag = "latest";
  auto r = cli.call(
      "POST", "/images/" + source + "/tag" + http::query_string({{"repo", repo}, {"tag", tag}}));
  if (!r) return fail(r.error());
  return ok();
}

Status cmd_rmi(Cli& cli, const Args& args) {
  bool force = false, no_prune = false;
  std::vector<std::string> names;
  CLI::App app("Remove one or more images", "rmi");
  setup_app(app);
  app.add_flag("-f,--force", force, "Force removal of the image");
  app.add_flag("--no-prune", no_prune, "Do not delete untagged parents");
  app.add_option("images", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  std::string errors;
  for (const auto& n : names) {
    auto r = cli.call("DELETE", "/images/" + n +
                                    http::query_string({{"force", force ? "1" : ""},
                                                        {"noprune", no_prune ? "1" : ""}}));
    if (!r) {
      errors += (errors.empty() ? "" : "\n") + r.error().message();
      continue;
    }
    auto j = parse_json(r->body, "image delete response");
    if (!j) continue;
    std::string text;
    for (const auto& e : *j) {
      if (e.contains("Untagged")) text += "Untagged: " + e.value("Untagged", "") + "\n";
      if (e.contains("Deleted")) text += "Deleted: " + e.value("Deleted", "") + "\n";
    }
    out(text);
  }
  if (!errors.empty()) return fail(1, errors);
  return ok();
}

Status cmd_history(Cli& cli, const Args& args) {
  bool human = true, no_trunc = false, quiet = false;
  std::string format, name;
  CLI::App app("Show the history of an image", "history");
  setup_app(app);
  app.add_flag("-H,--human{true}", human, "Print sizes and dates in human readable format");
  app.add_flag("--no-trunc", no_trunc, "Don't truncate output");
  app.add_flag("-q,--quiet", quiet, "Only show image IDs");
  app.add_option("--format", format, "Format output using a custom template");
  app.add_option("image", name)->required();
  if (auto st = parse_args(app, args)) return *st;
  auto h = cli.get_json("/images/" + name + "/history");
  if (!h) return fail(h.error());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::vector<Value> rows;
  for (const auto& e : *h) {
    Value r = Value::object();
    const std::string id = e.value("Id", "");
    r["ID"] = id == "<missing>" || no_trunc ? id : truncate_id(id);
    const int64_t created = e.value("Created", int64_t{0});
    r["CreatedSince"] = human ? human_duration(now - created) + " ago" : go_time_string(created);
    r["CreatedAt"] = go_time_string(created);
    std::string by = e.value("CreatedBy", "");
    for (char& c : by)
      if (c == '\t') c = ' ';
    r["CreatedBy"] = no_trunc ? by : ellipsis(by, 45);
    const int64_t size = e.value("Size", int64_t{0});
    r["Size"] = human ? human_size(static_cast<double>(size), 3) : std::to_string(size);
    r["Comment"] = e.value("Comment", "");
    rows.push_back(r);
  }
  RowFormat f;
  f.header = Value{{"ID", "IMAGE"},
                   {"CreatedSince", "CREATED"},
                   {"CreatedAt", "CREATED AT"},
                   {"CreatedBy", "CREATED BY"},
                   {"Size", "SIZE"},
                   {"Comment", "COMMENT"}};
  f.format = quiet ? "{{.ID}}"
             : !format.empty()
                 ? format
                 : "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}";
  auto text = render_rows(f, rows);
  if (!text) return fail(text.error());
  out(*text);
  return ok();
}

Status cmd_import(Cli& cli, const Args& args) {
  std::vector<std::string> changes;
  std::string message, platform, source, ref;
  CLI::App app("Import the contents from a tarball to create a filesystem image", "import");
  setup_app(app);
  app.add_option("-c,--change", changes, "Apply Dockerfile instruction to the created image")
      ->allow_extra_args(false);
  app.add_option("-m,--message", message, "Set commit message for imported image");
  app.add_option("--platform", platform, "Set platform if server is multi-platform capable");
  app.add_option("file", source)->required();
  app.add_option("reference", ref);
  if (auto st = parse_args(app, args)) return *st;
  auto [repo, tag] = split_tag(ref);
  std::vector<std::pair<std::string, std::string>> q = {
      {"fromSrc", source == "-" || source.find("://") == std::string::npos ? "-" : source},
      {"repo", repo},
      {"tag", tag},
      {"message", message},
      {"platform", platform}};
  for (const auto& c : changes) q.push_back({"changes", c});
  http::RequestOptions o;
  o.content_type = "application/x-tar";
  UniqueFd file;
  if (source != "-" && source.find("://") == std::string::npos) {
    file = UniqueFd(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) return fail(1, Error::last("open " + source).message());
    o.body_reader = fd_reader(file.get());
  } else if (source == "-") {
    o.body_reader = fd_reader(0);
  }
  auto s = cli.stream("POST", "/images/create" + http::query_string(q), o);
  if (!s) return fail(s.error());
  if (auto r = display_json_messages(**s, 1, isatty(1)); !r) return fail(r.error());
  return ok();
}

Status cmd_save(Cli& cli, const Args& args) {
  std::string output;
  std::vector<std::string> names;
  CLI::App app("Save one or more images to a tar archive (streamed to STDOUT by default)", "save");
  setup_app(app);
  app.add_option("-o,--output", output, "Write to a file, instead of STDOUT");
  app.add_option("images", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  if (output.empty() && isatty(1))
    return fail(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
  std::vector<std::pair<std::string, std::string>> q;
  for (const auto& n : names) q.push_back({"names", n});
  auto s = cli.stream("GET", "/images/get" + http::query_string(q));
  if (!s) return fail(s.error());
  int fd = 1;
  UniqueFd file;
  if (!output.empty()) {
    auto f = open_output(output);
    if (!f) return fail(f.error());
    file = std::move(*f);
    fd = file.get();
  }
  if (auto r = stream_to_fd(**s, fd); !r) return fail(r.error());
  return ok();
}

Status cmd_load(Cli& cli, const Args& args) {
  std::string input;
  bool quiet = false;
  CLI::App app("Load an image from a tar archive or STDIN", "load");
  setup_app(app);
  app.add_option("-i,--input", input, "Read from tar archive file, instead of STDIN");
  app.add_flag("-q,--quiet", quiet, "Suppress the load output");
  if (auto st = parse_args(app, args)) return *st;
  UniqueFd file;
  int fd = 0;
  if (!input.empty()) {
    file = UniqueFd(::open(input.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) return fail(1, Error::last("open " + input).message());
    fd = file.get();
  } else if (isatty(0)) {
    return fail(1, "requested load from stdin, but stdin is empty");
  }
  http::RequestOptions o;
  o.content_type = "application/x-tar";
  o.body_reader = fd_reader(fd);
  const bool tty = isatty(1);
  auto s = cli.stream(
      "POST", "/images/load" + http::query_string({{"quiet", quiet || !tty ? "1" : ""}}), o);
  if (!s) return fail(s.error());
  if ((*s)->header("Content-Type") == "application/json") {
    if (auto r = display_json_messages(**s, 1, tty); !r) return fail(r.error());
  } else {
    if (auto r = stream_to_fd(**s, 1); !r) return fail(r.error());
  }
  return ok();
}

Status cmd_image_prune(Cli& cli, const Args& args) {
  bool all = false, force = false;
  std::vector<std::string> filters;
  CLI::App app("Remove unused images", "prune");
  setup_app(app);
  app.add_flag("-a,--all", all, "Remove all unused images, not just dangling ones");
  app.add_flag("-f,--force", force, "Do not prompt for confirmation");
  app.add_option("--filter", filters, "Provide filter values")->allow_extra_args(false);
  if (auto st = parse_args(app, args)) return *st;
  const std::string warning = all ? "WARNING! This will remove all images without at least one "
                                    "container associated to them."
                                  : "WARNING! This will remove all dangling images.";
  if (!confirm(warning, force)) return ok();
  filters.push_back(std::string("dangling=") + (all ? "false" : "true"));
  auto fj = filters_json(filters);
  if (!fj) return fail(fj.error());
  auto r = cli.call("POST", "/images/prune" + http::query_string({{"filters", *fj}}));
  if (!r) return fail(r.error());
  auto j = parse_json(r->body, "prune response");
  if (!j) return fail(j.error());
  out(prune_report(*j, "ImagesDeleted", "Deleted Images") + "Total reclaimed space: " +
      human_size(static_cast<double>(j->value("SpaceReclaimed", int64_t{0}))) + "\n");
  return ok();
}

}  // namespace berth::cli
