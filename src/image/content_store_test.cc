// Content store and SQLite wrapper: verified commits, nothing partial visible, transactions.
#include "image/content_store.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/file.h"
#include "image/db.h"

namespace berth::image {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-cs-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { (void)remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int count_entries(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  while (auto* e = readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  closedir(d);
  return n;
}

TEST(ContentStoreTest, CommitVerifiesDigestAndRenamesIntoPlace) {
  TempDir t;
  auto cs = ContentStore::open(t.path() + "/content");
  ASSERT_TRUE(cs) << cs.error().message();
  const std::string data = "hello blob";
  const std::string digest = sha256_digest(data);
  EXPECT_EQ(digest, "sha256:e997afd18e5f6be004fc193aed2c90291e68ab2c7599a62538c935b7fca6ab0f");
  auto w = (*cs)->writer();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->write(data.substr(0, 5)));
  // Not visible while being written.
  EXPECT_FALSE((*cs)->exists(digest));
  ASSERT_TRUE(w->write(data.substr(5)));
  auto d = w->commit(digest, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(*d, digest);
  EXPECT_TRUE(w->created());
  EXPECT_TRUE((*cs)->exists(digest));
  EXPECT_EQ((*cs)->read_blob(digest).value(), data);
  EXPECT_EQ((*cs)->size(digest).value(), 10);
  EXPECT_EQ(count_entries(t.path() + "/content/ingest"), 0);
  auto list = (*cs)->list();
  ASSERT_TRUE(list);
  EXPECT_EQ(*list, std::vector<std::string>{digest});
}

TEST(ContentStoreTest, DigestMismatchLeavesNoBlobAndNoIngest) {
  TempDir t;
  auto cs = ContentStore::open(t.path() + "/content");
  ASSERT_TRUE(cs);
  const std::string wrong = sha256_digest("something else");
  {
    auto w = (*cs)->writer();
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write("actual bytes"));
    auto d = w->commit(wrong);
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message().find("digest mismatch"), std::string::npos);
  }
  EXPECT_FALSE((*cs)->exists(wrong));
  EXPECT_FALSE((*cs)->exists(sha256_digest("actual bytes")));
  EXPECT_EQ(count_entries(t.path() + "/content/ingest"), 0);
  EXPECT_EQ(count_entries(t.path() + "/content/blobs/sha256"), 0);
}

TEST(ContentStoreTest, SizeMismatchAndAbandonedWriterLeaveNothing) {
  TempDir t;
  auto cs = ContentStore::open(t.path() + "/content");
  ASSERT_TRUE(cs);
  {
    auto w = (*cs)->writer();
    ASSERT_TRUE(w->write("12345"));
    auto d = w->commit("", 4);
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message().find("size 5"), std::string::npos);
  }
  {
    auto w = (*cs)->writer();
    ASSERT_TRUE(w->write("abandoned"));
    EXPECT_EQ(count_entries(t.path() + "/content/ingest"), 1);
  }
  EXPECT_EQ(count_entries(t.path() + "/content/ingest"), 0);
  EXPECT_EQ(count_entries(t.path() + "/content/blobs/sha256"), 0);
}

TEST(ContentStoreTest, ReopenClearsStaleIngestAndRemoveIsIdempotent) {
  TempDir t;
  auto cs = ContentStore::open(t.path() + "/content");
  ASSERT_TRUE(cs);
  ASSERT_TRUE(write_file_atomic(t.path() + "/content/ingest/stale", "x"));
  auto d = (*cs)->write_blob("kept");
  ASSERT_TRUE(d);
  auto again = ContentStore::open(t.path() + "/content");
  ASSERT_TRUE(again);
  EXPECT_EQ(count_entries(t.path() + "/content/ingest"), 0);
  EXPECT_TRUE((*again)->exists(*d));
  // Writing the same bytes again keeps the one blob.
  auto w = (*again)->writer();
  ASSERT_TRUE(w->write("kept"));
  ASSERT_TRUE(w->commit(*d));
  EXPECT_FALSE(w->created());
  ASSERT_TRUE((*again)->remove(*d));
  ASSERT_TRUE((*again)->remove(*d));
  EXPECT_FALSE((*again)->exists(*d));
  auto missing = (*again)->open_blob(*d);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE((*again)->write_blob("x", "sha256:nothex"));
}

TEST(DbTest, StatementsAndTransactions) {
  TempDir t;
  auto db = Db::open(t.path() + "/metadata.db");
  ASSERT_TRUE(db) << db.error().message();
  ASSERT_TRUE((*db)->exec("CREATE TABLE t_items (k TEXT PRIMARY KEY, v INTEGER)"));
  {
    auto st = (*db)->prepare("INSERT INTO t_items (k, v) VALUES (?, ?)");
    ASSERT_TRUE(st);
    st->bind_all(std::string("a"), int64_t{1});
    ASSERT_TRUE(st->run());
    ASSERT_TRUE(st->reset());
    st->bind_all(std::string("a"), int64_t{2});
    auto dup = st->run();
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);
  }
  {
    auto tx = (*db)->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*db)->exec("INSERT INTO t_items VALUES ('rolled', 3)"));
  }  // destroyed without commit: rolled back
  {
    auto tx = (*db)->begin();
    ASSERT_TRUE((*db)->exec("INSERT INTO t_items VALUES ('kept', 4)"));
    ASSERT_TRUE(tx->commit());
  }
  auto q = (*db)->prepare("SELECT k, v FROM t_items ORDER BY k");
  ASSERT_TRUE(q);
  std::vector<std::pair<std::string, int64_t>> rows;
  while (q->step().value()) rows.emplace_back(q->text(0), q->int64(1));
  EXPECT_EQ(rows, (std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"kept", 4}}));
  auto mode = (*db)->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode->step().value());
  EXPECT_EQ(mode->text(0), "wal");
  auto bad = (*db)->prepare("SELEKT 1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("SELEKT"), std::string::npos);
}

}  // namespace
}  // namespace berth::image
