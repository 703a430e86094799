// nvcomp.cc — placeholder until the nvCOMP module lands.
#include <napi.h>
void InitNvcomp(Napi::Env env, Napi::Object exports) {}
