#include "core/data/prompts.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/common/error.h"
#include "core/io/json_util.h"

namespace sightline {

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::vector<std::string> default_neutral_prompts() {
  return {"Describe the positions of objects in the image.",
          "Describe the image.",
          "What is in this image?",
          "Describe the scene in detail.",
          "List the objects you can see.",
          "Describe the layout of the scene.",
          "What can you see in this picture?",
          "Give a short description of the picture."};
}

std::vector<std::string> read_prompt_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("file '{}': cannot open for reading: {}", path, std::strerror(errno));
  std::vector<std::string> prompts;
  std::string line;
  while (std::getline(in, line)) {
    const std::string prompt = trim(line);
    if (prompt.empty() || prompt[0] == '#') continue;
    prompts.push_back(prompt);
  }
  if (in.bad()) fail("file '{}': read error", path);
  if (prompts.empty()) fail("file '{}': no prompts (one a line expected)", path);
  return prompts;
}

void write_prompt_file(const std::string& path, const std::vector<std::string>& prompts) {
  std::string text;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].find_first_of("\r\n") != std::string::npos)
      fail("file '{}': prompt {} holds a line break", path, i);
    if (trim(prompts[i]).empty()) fail("file '{}': prompt {} is blank", path, i);
    text += prompts[i];
    text += '\n';
  }
  AtomicWriter out(path);
  out.write(text);
  out.commit();
}

}  // namespace sightline
