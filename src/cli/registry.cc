// pull, push, login and logout: the registry commands. Credentials come from docker's
// config.json (credentials.h) and travel to the daemon in X-Registry-Auth, as the docker CLI
// sends them; progress is the daemon's JSON stream shown by display_json_messages.
#include <unistd.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/credentials.h"
#include "cli/jsonmessage.h"
#include "oci/reference.h"

namespace berth::cli {

Status cmd_pull(Cli& cli, const Args& args) {
  bool quiet = false, all_tags = false;
  std::string name, platform;
  CLI::App app("Download an image from a registry", "pull");
  setup_app(app);
  app.add_flag("-q,--quiet", quiet, "Suppress verbose output");
  app.add_flag("-a,--all-tags", all_tags, "Download all tagged images in the repository");
  app.add_option("--platform", platform, "Set platform if server is multi-platform capable");
  app.add_option("image", name)->required();
  if (auto st = parse_args(app, args)) return *st;
  auto ref = oci::parse_normalized_named(name);
  if (!ref) return fail(1, ref.error().message());
  if (all_tags) return fail(1, "--all-tags is not supported by berth yet");
  if (ref->name_only()) {
    ref->tag = "latest";
    if (!quiet) out("Using default tag: latest\n");
  }
  std::string tag = ref->digest.empty() ? ref->tag : ref->digest;
  http::RequestOptions o;
  o.headers.push_back({"X-Registry-Auth", registry_auth_header(ref->domain)});
  auto s = cli.stream(
      "POST",
      "/images/create" +
          http::query_string({{"fromImage", ref->name()}, {"tag", tag}, {"platform", platform}}),
      o);
  if (!s) return fail(s.error());
  if (auto r = display_json_messages(**s, quiet ? -1 : 1, isatty(1), {}, true); !r)
    return fail(r.error());
  oci::Reference shown = *ref;
  if (!shown.digest.empty()) shown.tag.clear();
  out(shown.string() + "\n");
  return ok();
}

Status cmd_push(Cli& cli, const Args& args) {
  bool quiet = false, all_tags = false;
  std::string name;
  CLI::App app("Upload an image to a registry", "push");
  setup_app(app);
  app.add_flag("-a,--all-tags", all_tags, "Push all tags of an image to the repository");
  app.add_flag("-q,--quiet", quiet, "Suppress verbose output");
  app.add_option("image", name)->required();
  if (auto st = parse_args(app, args)) return *st;
  auto ref = oci::parse_normalized_named(name);
  if (!ref) return fail(1, ref.error().message());
  if (!ref->digest.empty()) return fail(1, "cannot push a digest reference");
  if (all_tags && !ref->tag.empty()) return fail(1, "tag can't be used with --all-tags/-a");
  if (!all_tags && ref->tag.empty()) {
    ref->tag = "latest";
    if (!quiet) out("Using default tag: latest\n");
  }
  http::RequestOptions o;
  o.headers.push_back({"X-Registry-Auth", registry_auth_header(ref->domain)});
  auto s = cli.stream(
      "POST", "/images/" + ref->familiar_name() + "/push" + http::query_string({{"tag", ref->tag}}),
      o);
  if (!s) return fail(s.error());
  if (auto r = display_json_messages(**s, quiet ? -1 : 1, isatty(1), {}, true); !r)
    return fail(r.error());
  if (quiet) out(ref->familiar() + "\n");
  return ok();
}

Status cmd_login(Cli& cli, const Args& args) {
  std::string user, password, server;
  bool password_stdin = false;
  CLI::App app("Authenticate to a registry", "login");
  setup_app(app);
  app.add_option("-u,--username", user, "Username");
  app.add_option("-p,--password", password, "Password or Personal Access Token (PAT)");
  app.add_flag("--password-stdin", password_stdin, "Take the Password or PAT from stdin");
  app.add_option("server", server);
  if (auto st = parse_args(app, args)) return *st;
  if (password_stdin) {
    if (!password.empty()) return fail(1, "--password and --password-stdin are mutually exclusive");
    if (user.empty()) return fail(1, "Must provide --username with --password-stdin");
    std::string all, line;
    while (std::getline(std::cin, line)) all += line + "\n";
    while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
    password = all;
  } else if (!password.empty()) {
    err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  }
  std::string key = credential_key(server.empty() ? "docker.io" : server);
  if (user.empty() || password.empty()) {
    // A stored login is checked again, as docker does when no credentials are given.
    auto stored = load_credentials(key);
    if (!stored) return fail(stored.error());
    if (!*stored) {
      if (!isatty(0))
        return fail(1, "Error: Cannot perform an interactive login from a non TTY device");
      if (user.empty()) {
        out("Username: ");
        std::getline(std::cin, user);
      }
      out("Password: ");
      std::getline(std::cin, password);
    } else {
      user = (*stored)->username;
      password = (*stored)->password;
    }
  }
  Value body = Value::object();
  body["username"] = user;
  body["password"] = password;
  body["serveraddress"] = key;
  auto r = cli.call_json("POST", "/auth", body);
  if (!r) return fail(r.error());
  Credentials c{.username = user, .password = password};
  Value reply = Value::parse(r->body, nullptr, false);
  if (reply.is_object() && reply.contains("IdentityToken") && reply["IdentityToken"].is_string() &&
      !reply["IdentityToken"].get<std::string>().empty()) {
    c.identity_token = reply["IdentityToken"].get<std::string>();
    c.password.clear();
  }
  if (auto st = store_credentials(key, c); !st)
    return fail(1, "Error saving credentials: " + st.error().message());
  err("\nWARNING! Your credentials are stored unencrypted in '" + docker_config_path() +
      "'.\nConfigure a credential helper to remove this warning. See\n"
      "https://docs.docker.com/go/credential-store/\n\n");
  out("Login Succeeded\n");
  return ok();
}

Status cmd_logout(Cli&, const Args& args) {
  std::string server;
  CLI::App app("Log out from a registry", "logout");
  setup_app(app);
  app.add_option("server", server);
  if (auto st = parse_args(app, args)) return *st;
  std::string key = credential_key(server.empty() ? "docker.io" : server);
  auto erased = erase_credentials(key);
  if (!erased) return fail(erased.error());
  if (!*erased) {
    out("Not logged in to " + key + "\n");
    return ok();
  }
  out("Removing login credentials for " + key + "\n");
  return ok();
}

}  // namespace berth::cli
