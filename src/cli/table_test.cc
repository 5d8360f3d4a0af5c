// Tables must line up exactly like docker's (Go tabwriter, minwidth 10, padding 3).
#include "cli/table.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

TEST(TabWrite, PadsColumnsToWidestCellPlusThreeMinTen) {
  EXPECT_EQ(tabwrite("CONTAINER ID\tIMAGE\tPORTS\tNAMES\n21a45cea22ae\tbusybox:test\t\tt1\n"),
            "CONTAINER ID   IMAGE          PORTS     NAMES\n"
            "21a45cea22ae   busybox:test             t1\n");
}

TEST(TabWrite, LastCellIsNotPaddedAndShortLinesEndBlocks) {
  EXPECT_EQ(tabwrite("a\tb\nlonger-than-ten\tc\nno tabs here\nx\ty\n"),
            "a                 b\n"
            "longer-than-ten   c\n"
            "no tabs here\n"
            "x         y\n");
}

TEST(TabWrite, CountsRunesNotBytes) {
  EXPECT_EQ(tabwrite("\"sleep…\"\tx\n\"abc\"\ty\n"), "\"sleep…\"   x\n\"abc\"      y\n");
}

TEST(RenderRows, TableFormatPrintsHeaderEvenWithoutRows) {
  RowFormat f{"table {{.ID}}\\t{{.Name}}", Value::parse(R"({"ID":"CONTAINER ID","Name":"NAME"})")};
  EXPECT_EQ(render_rows(f, {}).value(), "CONTAINER ID   NAME\n");
  auto out = render_rows(f, {Value::parse(R"({"ID":"abc","Name":"x"})")});
  EXPECT_EQ(out.value(), "CONTAINER ID   NAME\nabc            x\n");
}

TEST(RenderRows, PlainFormatOneLinePerRowAndHeaderFunctionsPassThrough) {
  RowFormat f{"{{.ID}}: {{upper .Name}}", Value::parse(R"({"ID":"ID","Name":"NAME"})")};
  EXPECT_EQ(render_rows(f, {Value::parse(R"({"ID":"a","Name":"x"})"),
                            Value::parse(R"({"ID":"b","Name":"y"})")})
                .value(),
            "a: X\nb: Y\n");
  RowFormat t{"table {{upper .Name}}", Value::parse(R"({"Name":"NAME"})")};
  EXPECT_EQ(render_rows(t, {Value::parse(R"({"Name":"x"})")}).value(), "NAME\nX\n");
}

TEST(RenderRows, UnknownFieldIsTemplateError) {
  RowFormat f{"{{.Nope}}", Value::parse(R"({"ID":"ID"})")};
  auto r = render_rows(f, {Value::parse(R"({"ID":"a"})")});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("Nope"), std::string::npos);
}

}  // namespace
}  // namespace berth::cli
