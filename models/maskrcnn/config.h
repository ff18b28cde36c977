// Mask R-CNN's settings in one structure, named as users of the Keras Mask R-CNN study know them where
// a name exists, with torchvision's maskrcnn_resnet50_fpn values as defaults; read from and written to
// JSON (configs/maskrcnn_default.json lists every key).
//
// Defaults follow torchvision's builder as it is used with pretrained weights (frozen batch norm, 3
// trainable backbone stages); with weights=None torchvision switches to trainable BatchNorm2d and all 5
// stages, which scripts/parity sets explicitly.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mrc::maskrcnn {

// Keras names of the five losses, in the order they are reported.
inline const std::array<std::string, 5> kLossNames = {"rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss",
                                                      "mrcnn_bbox_loss", "mrcnn_mask_loss"};

struct Config {
  std::string NAME = "maskrcnn";

  // ---- backbone and FPN ----
  std::string BACKBONE = "resnet50";        // resnet50 | resnet101
  std::string BACKBONE_NORM = "frozen_bn";  // frozen_bn | bn | gn
  double BACKBONE_NORM_EPS = 1e-5;          // torchvision's COCO weights use 0 (overwrite_eps)
  int64_t GN_GROUPS = 32;
  int64_t TRAINABLE_LAYERS = 3;             // torchvision trainable_backbone_layers, 0..5
  int64_t TOP_DOWN_PYRAMID_SIZE = 256;      // FPN channels

  // ---- classes and input images ----
  int64_t NUM_CLASSES = 91;                 // including the background
  int64_t IMAGE_MIN_DIM = 800;
  int64_t IMAGE_MAX_DIM = 1333;
  std::vector<double> IMAGE_MEAN = {0.485, 0.456, 0.406};  // on [0, 1] pixels
  std::vector<double> IMAGE_STD = {0.229, 0.224, 0.225};
  int64_t IMAGE_SIZE_DIVISIBLE = 32;

  // ---- RPN ----
  std::vector<double> RPN_ANCHOR_SCALES = {32, 64, 128, 256, 512};  // one size per level P2..P6
  std::vector<double> RPN_ANCHOR_RATIOS = {0.5, 1.0, 2.0};
  double RPN_NMS_THRESHOLD = 0.7;
  int64_t PRE_NMS_LIMIT_TRAINING = 2000;    // per level; "PRE_NMS_LIMIT" in JSON sets both
  int64_t PRE_NMS_LIMIT_INFERENCE = 1000;
  int64_t POST_NMS_ROIS_TRAINING = 2000;
  int64_t POST_NMS_ROIS_INFERENCE = 1000;
  double RPN_SCORE_THRESHOLD = 0.0;
  double RPN_MIN_SIZE = 1e-3;
  double RPN_FG_IOU_THRESHOLD = 0.7;
  double RPN_BG_IOU_THRESHOLD = 0.3;
  int64_t RPN_TRAIN_ANCHORS_PER_IMAGE = 256;
  double RPN_POSITIVE_RATIO = 0.5;
  std::vector<double> RPN_BBOX_WEIGHTS = {1, 1, 1, 1};

  // ---- ROI heads ----
  int64_t TRAIN_ROIS_PER_IMAGE = 512;
  double ROI_POSITIVE_RATIO = 0.25;
  double ROI_FG_IOU_THRESHOLD = 0.5;
  double ROI_BG_IOU_THRESHOLD = 0.5;
  std::vector<double> BBOX_WEIGHTS = {10, 10, 5, 5};
  int64_t POOL_SIZE = 7;
  int64_t MASK_POOL_SIZE = 14;
  int64_t ROI_SAMPLING_RATIO = 2;
  std::vector<int64_t> MASK_SHAPE = {28, 28};  // must be 2 * MASK_POOL_SIZE (the transposed conv doubles it)
  int64_t FPN_CLASSIF_FC_LAYERS_SIZE = 1024;
  int64_t MASK_HEAD_CHANNELS = 256;
  int64_t MAX_GT_INSTANCES = 100;            // instances kept per training image (torchvision has no cap)

  // ---- detection (inference) ----
  double DETECTION_MIN_CONFIDENCE = 0.05;
  double DETECTION_NMS_THRESHOLD = 0.5;
  int64_t DETECTION_MAX_INSTANCES = 100;
  double DETECTION_MASK_THRESHOLD = 0.5;

  // ---- training ----
  std::map<std::string, double> LOSS_WEIGHTS = {{"rpn_class_loss", 1.0},
                                                {"rpn_bbox_loss", 1.0},
                                                {"mrcnn_class_loss", 1.0},
                                                {"mrcnn_bbox_loss", 1.0},
                                                {"mrcnn_mask_loss", 1.0}};
  std::string OPTIMIZER = "sgd";            // sgd | adam | adamw (mrc-train --optimizer)
  double LEARNING_RATE = 0.001;
  double LEARNING_MOMENTUM = 0.9;           // SGD
  bool LEARNING_NESTEROV = false;           // SGD
  double ADAM_BETA_1 = 0.9;                 // Adam, AdamW
  double ADAM_BETA_2 = 0.999;
  double ADAM_EPSILON = 1e-8;
  double WEIGHT_DECAY = 0.0001;             // coupled (SGD, Adam) or decoupled (AdamW)
  double GRADIENT_CLIP_NORM = 5.0;
  // The learning rate of a step is its phase's rate times a factor: a linear warm-up from LR_WARMUP_FACTOR to 1
  // over the run's first LR_WARMUP_STEPS steps, times the decay: "none"; "step" (x LR_DECAY_GAMMA at each epoch of
  // LR_DECAY_EPOCHS, counted over the whole run); "cosine" (from 1 to 0 over the whole run, by step).
  int64_t LR_WARMUP_STEPS = 0;
  double LR_WARMUP_FACTOR = 0.001;
  std::string LR_DECAY = "none";
  std::vector<int64_t> LR_DECAY_EPOCHS = {};
  double LR_DECAY_GAMMA = 0.1;
  int64_t IMAGES_PER_GPU = 2;               // images per training step
  int64_t STEPS_PER_EPOCH = 1000;
  int64_t VALIDATION_STEPS = 50;
  int64_t EVAL_EVERY = -1;                  // mask/box AP on the validation photos every N epochs and at the end;
                                            // 0: only at the end; -1: every epoch when there are validation photos
  int64_t KEEP_CHECKPOINTS = 0;             // keep the last K epoch checkpoints (plus best.safetensors); 0: all
  uint64_t SEED = 0;
  std::string PRECISION = "fp32";  // fp32 | tf32 | bf16: conv/GEMM math on CUDA (tensor/precision.h); the CPU: fp32

  // Cross-field checks (the per-key checks happen while reading); throws std::runtime_error naming
  // `where` (the file) and the key.
  void validate(const std::string& where = "config") const;
  double loss_weight(const std::string& name) const;
};

// Reads a JSON object; keys starting with "_" are comments. Unknown keys, wrong types and values out of
// range raise std::runtime_error "<where>: key \"KEY\": <what was expected>, got <value>".
// matterport's Mask_RCNN config keys are accepted where this model has an equivalent and mapped onto it
// (matterport_keys.cpp); the others are refused with the reason.
Config config_from_json(const nlohmann::json& j, const std::string& where = "config");
// A JSON object of settings read before any config file: "matterport" (matterport's Mask_RCNN defaults where
// they differ from torchvision's). Throws std::invalid_argument for an unknown name.
nlohmann::json config_preset(const std::string& name);
nlohmann::ordered_json config_to_json(const Config& c);  // every key, in the order above
Config load_config(const std::string& path);
void save_config(const Config& c, const std::string& path);  // atomically

}  // namespace mrc::maskrcnn
