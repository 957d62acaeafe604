#include <gtest/gtest.h>

#include "core/common/error.h"
#include "core/common/progress.h"

using namespace sightline;

TEST(Progress, FractionEtaAndCancel) {
  Progress p;
  p.begin("work", 4);
  EXPECT_DOUBLE_EQ(p.fraction(), 0.0);
  p.tick(2);
  EXPECT_DOUBLE_EQ(p.fraction(), 0.5);
  EXPECT_GE(p.eta_seconds(), 0.0);
  EXPECT_EQ(p.label(), "work");
  EXPECT_NO_THROW(p.check_cancel());
  p.cancel();
  EXPECT_THROW(p.check_cancel(), Cancelled);
}

TEST(Progress, UnknownTotal) {
  Progress p;
  p.begin("open-ended", 0);
  p.tick();
  EXPECT_LT(p.fraction(), 0.0);
  EXPECT_LT(p.eta_seconds(), 0.0);
}

TEST(Error, FailFormatsMessage) {
  try {
    fail("file '{}': tensor '{}' missing", "a.safetensors", "w");
    FAIL() << "fail() returned";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "file 'a.safetensors': tensor 'w' missing");
  }
}
