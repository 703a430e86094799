// env.h — environment switches of the native code (measurement switches of the GPU engine: README "Environment
// switches"). Callers read them once, into a static.
#pragma once
#include <cstdlib>
#include <string>

namespace codecllm {

/** `name` unset: `dflt`; "0": false; any other value: true. */
inline bool EnvFlag(const char* name, bool dflt) {
  const char* e = std::getenv(name);
  return e ? std::string(e) != "0" : dflt;
}
/** `name` as an integer (atoi), or `dflt` when unset. */
inline int EnvInt(const char* name, int dflt) {
  const char* e = std::getenv(name);
  return e ? std::atoi(e) : dflt;
}
/** `name`'s value, or "" when unset. */
inline std::string EnvStr(const char* name) {
  const char* e = std::getenv(name);
  return e ? e : "";
}

}  // namespace codecllm
