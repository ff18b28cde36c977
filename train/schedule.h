// Training schedules of the Keras study: a list of phases, each training one layer group ("heads",
// "3+", "4+", "5+", "all"; see MaskRCNN::set_layer_group) for some epochs at one learning rate.
// Written on the command line as "GROUP:EPOCHS:LR[,GROUP:EPOCHS:LR...]", where LR may be a number or a
// fraction of the config's LEARNING_RATE written "LR/10". EPOCHS written "@N" ends the phase at epoch N of the
// whole run, as matterport's model.train(epochs=N) counts: "heads:@120:LR/10,heads:@180:LR/100,all:@210:LR/100"
// is heads 120, heads 60, all 30. "study" names exactly that schedule (the Keras study's three phases).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mrc::train {

struct Phase {
  std::string layers;   // layer group
  int64_t epochs = 1;
  double lr = 0.001;
};

// Parses "heads:2:LR/10,all:1:0.0001", "heads:@2:LR/10,all:@3:0.0001" or "study". base_lr stands for "LR".
// Throws std::invalid_argument naming the phase and what was expected.
std::vector<Phase> parse_schedule(const std::string& text, double base_lr);
std::string schedule_to_string(const std::vector<Phase>& phases);

// The study's three phases: heads at LR/10, heads at LR/100, all layers at LR/100 (120, 60 and 30 epochs).
inline constexpr const char* kStudySchedule = "heads:@120:LR/10,heads:@180:LR/100,all:@210:LR/100";
// The same phases with the same number of epochs each.
std::vector<Phase> study_schedule(double base_lr, int64_t epochs_per_phase);
// The syntax, for --help.
std::string schedule_syntax();

// Where global epoch `epoch` (0-based, counted over all phases) falls: the phase index and the epoch
// within it; phase == phases.size() when the schedule is over.
struct SchedulePosition {
  size_t phase = 0;
  int64_t epoch_in_phase = 0;
};
SchedulePosition locate_epoch(const std::vector<Phase>& phases, int64_t epoch);
int64_t total_epochs(const std::vector<Phase>& phases);

}  // namespace mrc::train
