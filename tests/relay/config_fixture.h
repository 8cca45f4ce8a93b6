#pragma once
// A scratch directory per test, and helpers to load a config from TOML text
// and/or an env map, with the default path pointed at a file that does not
// exist (so /etc/tern/tern.toml on the test machine never leaks in).

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "relay/config.h"

namespace tern::relay::testing {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "tern-config-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;  // a leftover scratch dir must not fail the test
    std::filesystem::remove_all(dir_, ignored);
  }

  // "$DIR" in text becomes the scratch directory.
  std::string expand(std::string text) const {
    for (std::size_t at = text.find("$DIR"); at != std::string::npos; at = text.find("$DIR", at)) {
      text.replace(at, 4, dir_);
    }
    return text;
  }
  Env expand(const Env& env) const {
    Env out;
    for (const auto& [k, v] : env) out[k] = expand(v);
    return out;
  }

  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << text;
    out.close();
    EXPECT_TRUE(out) << "cannot write " << path;
    return path;
  }

  std::string config_path() const { return dir_ + "/tern.toml"; }
  std::string absent_default() const { return dir_ + "/absent-default.toml"; }

  Result<Config> load_toml(const std::string& toml, const Env& env = {}) const {
    return load_config(write("tern.toml", expand(toml)), expand(env), absent_default());
  }
  Result<Config> load_env(const Env& env) const { return load_config(std::nullopt, expand(env), absent_default()); }

  // Files the TLS and relayhost password keys point at.
  void write_secrets() const {
    write("cert.pem", "-----BEGIN CERTIFICATE-----\n");
    write("key.pem", "-----BEGIN PRIVATE KEY-----\n");
    write("password", "s3cret\n");
  }

  std::string dir_;
};

}  // namespace tern::relay::testing
