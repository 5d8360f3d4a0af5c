// release_unused_text: walks /proc/self/smaps and MADV_DONTNEEDs every file-backed, non-writable
// mapping that has no anonymous (copy-on-write) pages. For such a mapping MADV_DONTNEED only
// unmaps page-cache pages; a later access refaults the same bytes from the file. Mappings with
// copied pages (RELRO after relocation) are skipped: dropping them would undo the relocations.
#include "shim/memory.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace berth::shim {

long release_unused_text() {
  FILE* f = std::fopen("/proc/self/smaps", "re");
  if (!f) return 0;
  struct Range {
    unsigned long start, end;
    long rss;
  };
  std::vector<Range> drop;
  Range cur{};
  bool candidate = false;
  long rss = 0;
  char line[512];
  auto finish = [&](long anon) {
    if (candidate && anon == 0 && rss > 0) drop.push_back({cur.start, cur.end, rss});
    candidate = false;
  };
  while (std::fgets(line, sizeof line, f)) {
    unsigned long start, end, inode;
    char perms[8];
    if (std::sscanf(line, "%lx-%lx %7s %*s %*s %lu", &start, &end, perms, &inode) == 4) {
      cur = {start, end, 0};
      rss = 0;
      // Private, not writable, backed by a file ([vdso], [vvar] and anonymous maps have inode 0).
      candidate = perms[1] == '-' && perms[3] == 'p' && inode != 0 && std::strchr(line, '/');
      continue;
    }
    long kb;
    if (std::sscanf(line, "Rss: %ld kB", &kb) == 1) rss = kb;
    if (std::sscanf(line, "Anonymous: %ld kB", &kb) == 1) finish(kb);
  }
  std::fclose(f);
  long released = 0;
  for (auto& r : drop)
    if (::madvise(reinterpret_cast<void*>(r.start), r.end - r.start, MADV_DONTNEED) == 0)
      released += r.rss;
  return released;
}

}  // namespace berth::shim
