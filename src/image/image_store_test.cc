// The image store end to end on a temporary data root: load of every tarball form the busybox
// fixture writes, resolve, tag, docker's rmi semantics, save -> load round trip (and skopeo),
// import, commit, corrupt and hostile tarballs, prune and garbage collection.
// Needs root (layers are unpacked with owners and overlay whiteouts); skips otherwise.
#include "image/image_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "base/file.h"
#include "image/image_store_impl.h"

namespace berth::image {
namespace {

std::string source_dir() {
  if (const char* s = getenv("BERTH_SOURCE_DIR")) return s;
  std::filesystem::path p(__FILE__);
  return p.parent_path().parent_path().parent_path().string();
}

int sh(const std::string& cmd) {
  return std::system(cmd.c_str());
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/berth-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    root_ = dir_ + "/root";
    auto s = ImageStore::open(root_);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) (void)remove_all(dir_);
  }

  // Runs the fixture script; returns the tarball path.
  std::string fixture(const std::string& name, const std::string& args) {
    std::string out = dir_ + "/" + name;
    int rc = sh("python3 " + source_dir() + "/tests/lib/make_busybox_image.py -o " + out + " " +
                args + " >/dev/null");
    EXPECT_EQ(rc, 0) << "fixture " << args;
    return out;
  }

  Result<std::vector<std::string>> load_file(const std::string& path,
                                             std::vector<std::string>* progress = nullptr) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + path);
    UniqueFd owned(fd);
    return store_->load(fd, [progress](const std::string& m) {
      if (progress) progress->push_back(m);
    });
  }

  LocalImageStore& impl() { return static_cast<LocalImageStore&>(*store_); }
  size_t blob_count() { return impl().content().list().value().size(); }
  size_t snapshot_count() { return store_->snapshotter().list_committed().value().size(); }

  // A rootfs tar made with python's tarfile: one file and one directory.
  std::string rootfs_tar(const std::string& name, const std::string& content) {
    std::string out = dir_ + "/" + name;
    std::string py =
        "import io,tarfile,sys\n"
        "t=tarfile.open(sys.argv[1],'w')\n"
        "d=tarfile.TarInfo('etc');d.type=tarfile.DIRTYPE;d.mode=0o755;t.addfile(d)\n"
        "b=sys.argv[2].encode();i=tarfile.TarInfo('etc/"
        "hello');i.size=len(b);t.addfile(i,io.BytesIO(b))\n"
        "t.close()\n";
    EXPECT_TRUE(write_file_atomic(dir_ + "/mk.py", py));
    EXPECT_EQ(sh("python3 " + dir_ + "/mk.py " + out + " '" + content + "'"), 0);
    return out;
  }

  Result<Image> import_file(const std::string& path, const ImportOptions& o) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    UniqueFd owned(fd);
    return store_->import(fd, o);
  }

  std::string dir_, root_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, LoadsDockerSaveTarball) {
  std::string tar = fixture("bb.tar", "--format docker --layers 2");
  std::vector<std::string> progress;
  auto r = load_file(tar, &progress);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, std::vector<std::string>{"Loaded image: busybox:latest"});
  EXPECT_EQ(progress.size(), 3u);  // one "Loading layer" per layer

  auto img = store_->resolve("busybox");
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->repo_tags, std::vector<std::string>{"busybox:latest"});
  ASSERT_EQ(img->diff_ids.size(), 3u);
  ASSERT_EQ(img->chain_ids.size(), 3u);
  EXPECT_EQ(img->chain_ids[0], img->diff_ids[0]);
  EXPECT_EQ(img->chain_ids[1], chain_id(img->chain_ids[0], img->diff_ids[1]));
  EXPECT_EQ(img->created, 1700000000);
  EXPECT_GT(img->size, 500000);
  EXPECT_EQ(img->config["config"]["Cmd"][0], "sh");
  // The image ID is the digest of the config blob as stored.
  auto cfg = impl().content().read_blob(img->id);
  ASSERT_TRUE(cfg);
  EXPECT_EQ(sha256_digest(*cfg), img->id);
  // An OCI manifest was written for it.
  auto m = oci::Manifest::parse(impl().content().read_blob(img->manifest_digest).value());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->config.digest, img->id);
  EXPECT_EQ(m->layers.size(), 3u);
  // Layers are unpacked: busybox in the base, the whiteout of /etc/motd in layer 1.
  auto lowers = store_->snapshotter().lower_dirs(img->top_chain_id());
  ASSERT_TRUE(lowers);
  ASSERT_EQ(lowers->size(), 3u);
  struct stat st {};
  EXPECT_EQ(::stat(((*lowers)[2] + "/bin/busybox").c_str(), &st), 0);
  ASSERT_EQ(::lstat(((*lowers)[1] + "/etc/motd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));

  // Loading again is idempotent: same image, no new layers unpacked.
  progress.clear();
  auto again = load_file(tar, &progress);
  ASSERT_TRUE(again);
  EXPECT_TRUE(progress.empty());
  EXPECT_EQ(store_->list().value().size(), 1u);
}

TEST_F(ImageStoreTest, AllFixtureFormatsGiveTheSameImage) {
  auto d = load_file(fixture("d.tar", "--format docker --layers 1 --tag a:1"));
  ASSERT_TRUE(d) << d.error().message();
  auto l = load_file(fixture("l.tar", "--format docker-legacy --layers 1 --tag b:2"));
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(*l, std::vector<std::string>{"Loaded image: b:2"});
  auto o = load_file(fixture("o.tar", "--format oci --gzip --layers 1 --tag localhost:5000/c/d:3"));
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(*o, std::vector<std::string>{"Loaded image: localhost:5000/c/d:3"});
  auto a = store_->resolve("a:1"), b = store_->resolve("b:2"),
       c = store_->resolve("localhost:5000/c/d:3");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(a->id, c->id);
  EXPECT_EQ(a->repo_tags, (std::vector<std::string>{"a:1", "b:2", "localhost:5000/c/d:3"}));
  EXPECT_EQ(store_->list().value().size(), 1u);
  // The OCI input kept its own (gzip) manifest; docker input got a generated one.
  auto untagged = load_file(fixture("u.tar", "--format oci --tag ''"));
  ASSERT_TRUE(untagged) << untagged.error().message();
  ASSERT_EQ(untagged->size(), 1u);
  EXPECT_TRUE((*untagged)[0].starts_with("Loaded image ID: sha256:"));
}

TEST_F(ImageStoreTest, LoadsCompressedTarballFromAPipe) {
  std::string tar = fixture("bb.tar", "--tag gz:1");
  // gzip writes into a pipe; the store reads it like a request body.
  FILE* gz = ::popen(("gzip -c " + tar).c_str(), "r");
  ASSERT_NE(gz, nullptr);
  auto r = store_->load(fileno(gz), nullptr);
  ::pclose(gz);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, std::vector<std::string>{"Loaded image: gz:1"});
}

TEST_F(ImageStoreTest, ResolveByNameIdPrefixAndDigest) {
  ASSERT_TRUE(load_file(fixture("bb.tar", "")));
  auto img = store_->resolve("docker.io/library/busybox:latest");
  ASSERT_TRUE(img);
  const std::string hex = img->id.substr(7);
  for (const std::string& q : {img->id, hex, hex.substr(0, 12), "sha256:" + hex.substr(0, 5),
                               hex.substr(0, 1), std::string("library/busybox")}) {
    auto r = store_->resolve(q);
    ASSERT_TRUE(r) << q << ": " << r.error().message();
    EXPECT_EQ(r->id, img->id) << q;
  }
  auto by_manifest = store_->resolve("busybox@" + img->manifest_digest);
  ASSERT_TRUE(by_manifest) << by_manifest.error().message();
  EXPECT_EQ(by_manifest->id, img->id);

  auto missing = store_->resolve("nothere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "No such image: nothere:latest");
  auto bad = store_->resolve("Bad");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store_->resolve("sha256:" + std::string(64, '0')));
}

TEST_F(ImageStoreTest, AmbiguousIdPrefixIsAnError) {
  // 17 distinct images: two must share their first hex digit.
  std::map<char, std::string> first;
  std::string prefix;
  for (int i = 0; i < 17 && prefix.empty(); ++i) {
    auto img = import_file(rootfs_tar("r" + std::to_string(i) + ".tar", "x" + std::to_string(i)),
                           {.message = "m" + std::to_string(i)});
    ASSERT_TRUE(img) << img.error().message();
    char c = img->id[7];
    if (first.count(c)) prefix = std::string(1, c);
    first[c] = img->id;
  }
  ASSERT_FALSE(prefix.empty());
  auto r = store_->resolve(prefix);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("ambiguous"), std::string::npos);
}

TEST_F(ImageStoreTest, TagAndRemoveFollowDocker) {
  ASSERT_TRUE(load_file(fixture("bb.tar", "--layers 1")));
  ASSERT_TRUE(store_->tag("busybox", "mine:1"));
  auto img = store_->resolve("mine:1").value();
  EXPECT_EQ(img.repo_tags, (std::vector<std::string>{"busybox:latest", "mine:1"}));
  const std::string id12 = img.id.substr(7, 12);
  EXPECT_FALSE(store_->tag("busybox", "x@sha256:" + std::string(64, 'a')));
  EXPECT_FALSE(store_->tag("nothere", "y"));

  // By ID with two tags: refused unless forced.
  auto conflict = store_->remove(img.id, false, nullptr);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(conflict.error().message(), "conflict: unable to delete " + id12 +
                                            " (must be forced) - image is referenced in multiple "
                                            "repositories");
  // Untagging one of two tags only untags.
  auto untag = store_->remove("mine:1", false, nullptr);
  ASSERT_TRUE(untag) << untag.error().message();
  ASSERT_EQ(untag->size(), 1u);
  EXPECT_EQ((*untag)[0].untagged, "mine:1");
  EXPECT_TRUE(store_->resolve(img.id));

  // The last tag of an image a container uses: refused, naming the container.
  const std::string cid(64, 'c');
  auto in_use = store_->remove_image(
      "busybox", false, [&](const std::string& id) { return id == img.id ? cid : ""; });
  ASSERT_FALSE(in_use);
  EXPECT_EQ(
      in_use.error().message(),
      "conflict: unable to remove repository reference \"busybox\" (must force) - container " +
          cid.substr(0, 12) + " is using its referenced image " + id12);
  auto in_use_bool = store_->remove("busybox", false, [](const std::string&) { return true; });
  ASSERT_FALSE(in_use_bool);
  EXPECT_EQ(in_use_bool.error().code(), ErrorCode::kConflict);

  // The last tag: untagged and deleted, layers with it.
  size_t snaps = snapshot_count();
  EXPECT_EQ(snaps, 2u);
  auto gone = store_->remove("busybox", false, [](const std::string&) { return false; });
  ASSERT_TRUE(gone) << gone.error().message();
  ASSERT_GE(gone->size(), 2u);
  EXPECT_EQ((*gone)[0].untagged, "busybox:latest");
  EXPECT_EQ((*gone)[1].deleted, img.id);
  EXPECT_EQ(gone->size(), 4u);  // + two layers
  EXPECT_EQ(snapshot_count(), 0u);
  EXPECT_EQ(blob_count(), 0u);
  auto none = store_->remove("busybox", false, nullptr);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "No such image: busybox:latest");
}

TEST_F(ImageStoreTest, ForcedRemoveByIdUntagsEverything) {
  ASSERT_TRUE(load_file(fixture("bb.tar", "")));
  ASSERT_TRUE(store_->tag("busybox", "other/repo:x"));
  auto img = store_->resolve("busybox").value();
  auto r = store_->remove(img.id.substr(7, 12), true, nullptr);
  ASSERT_TRUE(r) << r.error().message();
  std::vector<std::string> untagged;
  bool deleted = false;
  for (const auto& i : *r) {
    if (!i.untagged.empty()) untagged.push_back(i.untagged);
    if (i.deleted == img.id) deleted = true;
  }
  EXPECT_EQ(untagged, (std::vector<std::string>{"busybox:latest", "other/repo:x"}));
  EXPECT_TRUE(deleted);
  EXPECT_TRUE(store_->list().value().empty());
}

TEST_F(ImageStoreTest, SaveThenLoadGivesTheSameImage) {
  ASSERT_TRUE(load_file(fixture("oci.tar", "--format oci --gzip --layers 2")));
  ASSERT_TRUE(store_->tag("busybox", "busybox:second"));
  auto img = store_->resolve("busybox").value();
  std::string out = dir_ + "/saved.tar";
  {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    UniqueFd owned(fd);
    auto r = store_->save({"busybox"}, fd);
    ASSERT_TRUE(r) << r.error().message();
  }
  // A second store loads it back to the same image ID, both tags.
  auto other = ImageStore::open(dir_ + "/root2");
  ASSERT_TRUE(other);
  int fd = ::open(out.c_str(), O_RDONLY | O_CLOEXEC);
  UniqueFd owned(fd);
  auto loaded = (*other)->load(fd, nullptr);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(*loaded, (std::vector<std::string>{"Loaded image: busybox:latest",
                                               "Loaded image: busybox:second"}));
  auto back = (*other)->resolve("busybox:second");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, img.id);
  EXPECT_EQ(back->diff_ids, img.diff_ids);
  other->reset();
  (void)remove_all(dir_ + "/root2");

  // Layout: docker >= 25 (manifest.json with blobs paths + OCI layout).
  EXPECT_EQ(sh("tar -tf " + out + " | grep -qx manifest.json"), 0);
  EXPECT_EQ(sh("tar -tf " + out + " | grep -qx oci-layout"), 0);
  EXPECT_EQ(sh("tar -tf " + out + " | grep -qx index.json"), 0);
  EXPECT_EQ(sh("tar -xOf " + out + " manifest.json | grep -q 'Config.:.blobs/sha256/" +
               img.id.substr(7) + "\"'"),
            0);
  // Saving by ID: no tags.
  std::string by_id = dir_ + "/byid.tar";
  {
    int wfd = ::open(by_id.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    UniqueFd w(wfd);
    ASSERT_TRUE(store_->save({img.id.substr(7, 12)}, wfd));
  }
  EXPECT_EQ(sh("tar -xOf " + by_id + " manifest.json | grep -q 'RepoTags.:null'"), 0);
  auto missing = store_->save({"nothere"}, -1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  if (sh("command -v skopeo >/dev/null") == 0) {
    EXPECT_EQ(sh("skopeo inspect docker-archive:" + out + " >/dev/null"), 0);
    EXPECT_EQ(sh("skopeo inspect oci-archive:" + out + ":second >/dev/null"), 0);
    EXPECT_EQ(sh("skopeo copy -q docker-archive:" + out + " oci:" + dir_ + "/copied:t >/dev/null"),
              0);
  }
}

TEST_F(ImageStoreTest, ImportMakesAOneLayerImage) {
  json::Json overrides = {{"Cmd", {"/bin/sh"}}, {"Env", {"A=1"}}};
  auto img = import_file(
      rootfs_tar("r.tar", "hi"),
      {.repo_tag = "imported:v1", .config_overrides = overrides, .message = "from test"});
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->repo_tags, std::vector<std::string>{"imported:v1"});
  EXPECT_EQ(img->diff_ids.size(), 1u);
  EXPECT_EQ(img->config["config"]["Cmd"][0], "/bin/sh");
  EXPECT_EQ(img->config["os"], "linux");
  EXPECT_EQ(img->config["history"][0]["comment"], "from test");
  auto lowers = store_->snapshotter().lower_dirs(img->top_chain_id()).value();
  EXPECT_EQ(read_file(lowers[0] + "/etc/hello").value(), "hi");
  auto hist = store_->history("imported:v1");
  ASSERT_TRUE(hist);
  ASSERT_EQ(hist->size(), 1u);
  EXPECT_EQ((*hist)[0]["Id"], img->id);
  EXPECT_EQ((*hist)[0]["Comment"], "from test");
  EXPECT_EQ((*hist)[0]["Tags"][0], "imported:v1");
  // A bad stream leaves nothing.
  std::string junk = dir_ + "/junk.tar";
  ASSERT_TRUE(write_file_atomic(junk, std::string(700, 'z')));
  size_t blobs = blob_count();
  EXPECT_FALSE(import_file(junk, {.repo_tag = "junk:1"}));
  EXPECT_FALSE(store_->resolve("junk:1"));
  EXPECT_EQ(blob_count(), blobs);
}

TEST_F(ImageStoreTest, CommitAddsALayerOverTheParent) {
  ASSERT_TRUE(load_file(fixture("bb.tar", "")));
  auto parent = store_->resolve("busybox").value();
  std::string upper = dir_ + "/upper";
  ASSERT_TRUE(mkdir_all(upper + "/etc"));
  ASSERT_TRUE(write_file_atomic(upper + "/new.txt", "new"));
  ASSERT_EQ(::mknod((upper + "/etc/passwd").c_str(), S_IFCHR | 0600, makedev(0, 0)), 0);
  CommitOptions o{.upper_dir = upper,
                  .parent_image_id = parent.id,
                  .container_config = {{"Cmd", {"echo", "hi"}}},
                  .repo_tag = "committed:1",
                  .author = "me",
                  .comment = "a commit",
                  .created_by = "sh"};
  auto img = store_->commit(o);
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->diff_ids.size(), parent.diff_ids.size() + 1);
  EXPECT_EQ(img->chain_ids[0], parent.chain_ids[0]);
  EXPECT_EQ(img->config["config"]["Cmd"][1], "hi");
  EXPECT_EQ(img->config["author"], "me");
  EXPECT_EQ(img->config["history"].size(), parent.config["history"].size() + 1);
  EXPECT_EQ(img->config["history"].back()["created_by"], "sh");
  auto lowers = store_->snapshotter().lower_dirs(img->top_chain_id()).value();
  EXPECT_EQ(read_file(lowers[0] + "/new.txt").value(), "new");
  struct stat st {};
  ASSERT_EQ(::lstat((lowers[0] + "/etc/passwd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  // history: newest first, the commit on top naming the image, the parent's top naming it.
  auto hist = store_->history("committed:1").value();
  EXPECT_EQ(hist[0]["Id"], img->id);
  EXPECT_EQ(hist[0]["CreatedBy"], "sh");
  EXPECT_EQ(hist[0]["Comment"], "a commit");
  bool parent_named = false;
  for (const auto& h : hist) parent_named |= h["Id"] == parent.id;
  EXPECT_TRUE(parent_named);
  // The parent cannot go while the child exists.
  auto r = store_->remove(parent.id, true, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("image has dependent child images"), std::string::npos);
}

TEST_F(ImageStoreTest, CorruptTarballsLeaveNothing) {
  std::string good = fixture("good.tar", "--layers 1");
  const std::string py = dir_ + "/corrupt.py";
  ASSERT_TRUE(write_file_atomic(py,
                                "import io,sys,tarfile\n"
                                "src,dst,mode=sys.argv[1:4]\n"
                                "i=tarfile.open(src);o=tarfile.open(dst,'w')\n"
                                "layers=[m for m in i.getmembers() if m.isfile() and m.size>5000]\n"
                                "for m in i.getmembers():\n"
                                "  data=i.extractfile(m).read() if m.isfile() else None\n"
                                "  if m is layers[0]:\n"
                                "    if mode=='missing': continue\n"
                                "    if mode=='baddigest': data=data[:-600]+b'X'+data[-599:]\n"
                                "  o.addfile(m, io.BytesIO(data) if data is not None else None)\n"
                                "o.close()\n"));
  for (std::string mode : {"missing", "baddigest"}) {
    std::string bad = dir_ + "/" + mode + ".tar";
    ASSERT_EQ(sh("python3 " + py + " " + good + " " + bad + " " + mode), 0);
    auto r = load_file(bad);
    ASSERT_FALSE(r) << mode;
    EXPECT_NE(r.error().message().find("blobs/sha256/"), std::string::npos)
        << mode << ": " << r.error().message();
  }
  std::string truncated = dir_ + "/truncated.tar";
  ASSERT_EQ(sh("head -c 1000000 " + good + " > " + truncated), 0);
  auto t = load_file(truncated);
  ASSERT_FALSE(t);
  EXPECT_FALSE(t.error().message().empty());
  EXPECT_TRUE(store_->list().value().empty());
  EXPECT_FALSE(store_->resolve("busybox"));
  EXPECT_EQ(blob_count(), 0u);
  EXPECT_EQ(snapshot_count(), 0u);
}

TEST_F(ImageStoreTest, LegacyLayerSymlinksResolveInsideTheArchive) {
  // docker <= 24 writes a layer shared by two images once and symlinks the other layer.tar.
  std::string legacy = fixture("legacy.tar", "--format docker-legacy --tag linked:1");
  const std::string py = dir_ + "/link.py";
  ASSERT_TRUE(write_file_atomic(py,
                                "import io,sys,tarfile\n"
                                "i=tarfile.open(sys.argv[1]);o=tarfile.open(sys.argv[2],'w')\n"
                                "for m in i.getmembers():\n"
                                "  if m.name.endswith('/layer.tar'):\n"
                                "    data=i.extractfile(m).read()\n"
                                "    s=tarfile.TarInfo(m.name);s.type=tarfile.SYMTYPE\n"
                                "    s.linkname='../shared/./layer.tar';o.addfile(s)\n"
                                "    m.name='shared/layer.tar';o.addfile(m,io.BytesIO(data))\n"
                                "  else:\n"
                                "    o.addfile(m,i.extractfile(m) if m.isfile() else None)\n"
                                "o.close()\n"));
  std::string linked = dir_ + "/linked.tar";
  ASSERT_EQ(sh("python3 " + py + " " + legacy + " " + linked), 0);
  auto r = load_file(linked);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, std::vector<std::string>{"Loaded image: linked:1"});
  EXPECT_EQ(store_->resolve("linked:1").value().diff_ids.size(), 1u);
}

TEST_F(ImageStoreTest, HostileEntryNamesStayInsideTheStore) {
  const std::string victim = dir_ + "/victim";
  ASSERT_TRUE(mkdir_all(victim));
  const std::string py = dir_ + "/hostile.py";
  ASSERT_TRUE(
      write_file_atomic(py,
                        "import io,sys,tarfile\n"
                        "o=tarfile.open(sys.argv[1],'w')\n"
                        "def f(n,b):\n"
                        "  i=tarfile.TarInfo(n);i.size=len(b);o.addfile(i,io.BytesIO(b))\n"
                        "def l(n,t):\n"
                        "  i=tarfile.TarInfo(n);i.type=tarfile.SYMTYPE;i.linkname=t;o.addfile(i)\n"
                        "f('../../../../" +
                            victim.substr(1) +
                            "/dotdot','x'.encode())\n"
                            "f('" +
                            victim +
                            "/abs','x'.encode())\n"
                            "l('evil','" +
                            victim +
                            "')\n"
                            "f('evil/through','x'.encode())\n"
                            "l('manifest.json','../../../../etc/passwd')\n"
                            "o.close()\n"));
  std::string tar = dir_ + "/hostile.tar";
  ASSERT_EQ(sh("python3 " + py + " " + tar), 0);
  auto r = load_file(tar);
  ASSERT_FALSE(r);
  EXPECT_EQ(::access((victim + "/dotdot").c_str(), F_OK), -1);
  EXPECT_EQ(::access((victim + "/abs").c_str(), F_OK), -1);
  EXPECT_EQ(::access((victim + "/through").c_str(), F_OK), -1);
  EXPECT_TRUE(store_->list().value().empty());
  EXPECT_EQ(blob_count(), 0u);
}

TEST_F(ImageStoreTest, PruneAndGarbageCollect) {
  ASSERT_TRUE(load_file(fixture("bb.tar", "")));
  auto dangling = import_file(rootfs_tar("r.tar", "d"), {});
  ASSERT_TRUE(dangling);
  EXPECT_TRUE(dangling->repo_tags.empty());
  auto busybox = store_->resolve("busybox").value();

  auto p = store_->prune(false, nullptr);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->deleted.size(), 2u);  // image + its layer
  EXPECT_EQ(p->deleted[0].deleted, dangling->id);
  EXPECT_GT(p->space_reclaimed, 0);
  EXPECT_TRUE(store_->resolve("busybox"));

  auto kept = store_->prune(true, [&](const std::string& id) { return id == busybox.id; });
  ASSERT_TRUE(kept);
  EXPECT_TRUE(kept->deleted.empty());

  // Orphans: a blob and a committed snapshot nothing references.
  auto orphan = impl().content().write_blob("orphan");
  ASSERT_TRUE(orphan);
  auto du = store_->disk_usage([](const std::string&) { return 1; });
  ASSERT_TRUE(du);
  ASSERT_EQ(du->images.size(), 1u);
  EXPECT_EQ(du->images[0].containers, 1);
  EXPECT_EQ(du->images[0].size, busybox.size);
  auto reclaimed = store_->garbage_collect();
  ASSERT_TRUE(reclaimed);
  EXPECT_EQ(*reclaimed, 6);
  EXPECT_FALSE(impl().content().exists(*orphan));
  EXPECT_TRUE(store_->resolve("busybox"));

  auto all = store_->prune(true, nullptr);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->deleted[0].untagged, "busybox:latest");
  EXPECT_TRUE(store_->list().value().empty());
  EXPECT_EQ(blob_count(), 0u);
  EXPECT_EQ(snapshot_count(), 0u);
}

TEST_F(ImageStoreTest, ContainerSnapshotKeepsItsLayersThroughForcedRemove) {
  ASSERT_TRUE(load_file(fixture("bb.tar", "")));
  auto img = store_->resolve("busybox").value();
  ASSERT_TRUE(store_->snapshotter().prepare("ctr1", img.top_chain_id()));
  auto r = store_->remove("busybox", true, [](const std::string&) { return true; });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(store_->snapshotter().has_committed(img.top_chain_id()));
  ASSERT_TRUE(store_->snapshotter().remove("ctr1"));
  ASSERT_TRUE(store_->garbage_collect());
  EXPECT_EQ(snapshot_count(), 0u);
}

TEST_F(ImageStoreTest, ConcurrentLoadsImportsAndGcKeepEveryImage) {
  std::string a = fixture("a.tar", "--tag a:1 --layers 2");
  std::string b = fixture("b.tar", "--format oci --gzip --tag b:1 --layers 1");
  std::string r = rootfs_tar("r.tar", "concurrent");
  std::atomic<bool> stop = false;
  std::atomic<int> failures = 0;
  std::thread gc([&] {
    while (!stop) {
      if (!store_->garbage_collect()) ++failures;
      (void)store_->list();
    }
  });
  std::vector<std::thread> workers;
  workers.emplace_back([&] { failures += load_file(a) ? 0 : 1; });
  workers.emplace_back([&] { failures += load_file(b) ? 0 : 1; });
  workers.emplace_back([&] { failures += import_file(r, {.repo_tag = "c:1"}) ? 0 : 1; });
  for (auto& w : workers) w.join();
  stop = true;
  gc.join();
  EXPECT_EQ(failures, 0);
  ASSERT_TRUE(store_->garbage_collect());
  for (const char* ref : {"a:1", "b:1", "c:1"}) {
    auto img = store_->resolve(ref);
    ASSERT_TRUE(img) << ref;
    for (const auto& c : img->chain_ids) EXPECT_TRUE(store_->snapshotter().has_committed(c)) << ref;
    EXPECT_TRUE(impl().content().exists(img->id)) << ref;
    EXPECT_TRUE(impl().content().exists(img->manifest_digest)) << ref;
  }
}

TEST_F(ImageStoreTest, ReopenKeepsImages) {
  ASSERT_TRUE(load_file(fixture("bb.tar", "")));
  auto id = store_->resolve("busybox").value().id;
  store_.reset();
  auto again = ImageStore::open(root_);
  ASSERT_TRUE(again);
  store_ = std::move(*again);
  auto img = store_->resolve("busybox");
  ASSERT_TRUE(img);
  EXPECT_EQ(img->id, id);
}

}  // namespace
}  // namespace berth::image
