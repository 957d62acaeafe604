// Helpers shared by the tests/test_pipeline*.cpp files.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "core/common/error.h"
#include "core/pipeline/options.h"

namespace sightline::test {

// Expects pipeline_options_from_json(json, "cfg.json") to throw an Error whose message
// holds `fragment` and names the file.
inline void expect_options_error(const char* json, const char* fragment) {
  try {
    pipeline_options_from_json(nlohmann::json::parse(json), "cfg.json");
    ADD_FAILURE() << "no error for " << json;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
  }
}

}  // namespace sightline::test
