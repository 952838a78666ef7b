// colorize_lab: the core call from C++ on an L* plane, with RAII for the model handle.
//
//   c++ -std=c++17 colorize_lab.cpp -I../include -L../target/release -lcolorize -o colorize_lab
//   ./colorize_lab [model.onnx]
//
// Makes a synthetic L* gradient, asks for a*b*, and prints the mean chroma.
#include "colorize.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct ModelDeleter {
  void operator()(colorize_model *m) const { colorize_model_free(m); }
};
using Model = std::unique_ptr<colorize_model, ModelDeleter>;

static void check(colorize_status s, const char *what) {
  if (s != COLORIZE_OK) throw std::runtime_error(std::string(what) + ": " + colorize_last_error());
}

int main(int argc, char **argv) try {
  Model model;
  if (argc > 1) {
    colorize_model *raw = nullptr;
    check(colorize_model_load_file(argv[1], &raw), argv[1]);
    model.reset(raw);
  }
  const size_t width = 320, height = 200;
  std::vector<float> l(width * height), ab(2 * width * height);
  for (size_t y = 0; y < height; ++y)
    for (size_t x = 0; x < width; ++x) l[y * width + x] = 100.0f * float(x) / float(width - 1);
  colorize_options options = colorize_options_default();
  options.mode = COLORIZE_MODE_NATIVE;  // full resolution, in tiles
  check(colorize_l_channel_with_model(model.get(), &options, l.data(), width, height, width, ab.data(), 2 * width),
        "colorize");
  double chroma = 0;
  for (size_t i = 0; i < width * height; ++i) chroma += std::hypot(ab[2 * i], ab[2 * i + 1]);
  std::printf("colorize %s: %zux%zu, mean chroma %.2f\n", colorize_version(), width, height, chroma / double(width * height));
  return 0;
} catch (const std::exception &e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
