// ResNet-50's distinct convolution shapes at 224x224, batch 1: the stem, each stage's 1x1 / 3x3 / 1x1
// and downsample convs, with how often each occurs in the network (so the per-shape times add up to the
// network's convolution time). Shared by bench/conv.cpp and, as text, bench/conv_ref.py (keep in sync).
#pragma once
#include <cstdint>
#include <vector>

namespace mrc::bench {

struct ConvShape {
  const char* name;
  int64_t cin, cout, hw, k, stride, pad;  // input hw x hw
  int64_t count;                          // occurrences in ResNet-50
};

inline const std::vector<ConvShape>& resnet50_conv_shapes() {
  static const std::vector<ConvShape> shapes = {
      {"stem_7x7s2", 3, 64, 224, 7, 2, 3, 1},
      {"l1_1x1_64to64", 64, 64, 56, 1, 1, 0, 1},
      {"l1_3x3_64", 64, 64, 56, 3, 1, 1, 3},
      {"l1_1x1_64to256", 64, 256, 56, 1, 1, 0, 4},  // conv3 x3 + downsample
      {"l1_1x1_256to64", 256, 64, 56, 1, 1, 0, 2},
      {"l2_1x1_256to128", 256, 128, 56, 1, 1, 0, 1},
      {"l2_3x3s2_128", 128, 128, 56, 3, 2, 1, 1},
      {"l2_1x1_128to512", 128, 512, 28, 1, 1, 0, 4},
      {"l2_down_1x1s2", 256, 512, 56, 1, 2, 0, 1},
      {"l2_1x1_512to128", 512, 128, 28, 1, 1, 0, 3},
      {"l2_3x3_128", 128, 128, 28, 3, 1, 1, 3},
      {"l3_1x1_512to256", 512, 256, 28, 1, 1, 0, 1},
      {"l3_3x3s2_256", 256, 256, 28, 3, 2, 1, 1},
      {"l3_1x1_256to1024", 256, 1024, 14, 1, 1, 0, 6},
      {"l3_down_1x1s2", 512, 1024, 28, 1, 2, 0, 1},
      {"l3_1x1_1024to256", 1024, 256, 14, 1, 1, 0, 5},
      {"l3_3x3_256", 256, 256, 14, 3, 1, 1, 5},
      {"l4_1x1_1024to512", 1024, 512, 14, 1, 1, 0, 1},
      {"l4_3x3s2_512", 512, 512, 14, 3, 2, 1, 1},
      {"l4_1x1_512to2048", 512, 2048, 7, 1, 1, 0, 3},
      {"l4_down_1x1s2", 1024, 2048, 14, 1, 2, 0, 1},
      {"l4_1x1_2048to512", 2048, 512, 7, 1, 1, 0, 2},
      {"l4_3x3_512", 512, 512, 7, 3, 1, 1, 2},
  };
  return shapes;
}

}  // namespace mrc::bench
