// Internal: the preset YAML files, compiled in (generated EmbeddedPresets.cpp, see CMakeLists.txt).
#pragma once

namespace fractal::config_detail {
struct EmbeddedPreset {
  const char *name; // nullptr terminates the table
  const char *yaml;
};
extern const EmbeddedPreset kEmbeddedPresets[];
} // namespace fractal::config_detail
