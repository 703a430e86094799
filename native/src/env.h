// env.h — environment switches of the native code, read here only (GPU engine measurement switches: README
// "Environment switches"; CPU engine threads / spin / ISA; nvCOMP work memory). Callers read them once, into a static,
// or per call where the switch is documented as such.
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
/** `name` as a double (atof), or `dflt` when unset. */
inline double EnvDouble(const char* name, double dflt) {
  const char* e = std::getenv(name);
  return e ? std::atof(e) : dflt;
}
/** Whether `name` is set at all (any value, even "" or "0"). */
inline bool EnvSet(const char* name) { return std::getenv(name) != nullptr; }
/** `name`'s value, or "" when unset. */
inline std::string EnvStr(const char* name) {
  const char* e = std::getenv(name);
  return e ? e : "";
}

}  // namespace codecllm
