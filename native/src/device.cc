// device.cc — placeholder until the CUDA device-memory module lands.
#include <napi.h>
void InitDevice(Napi::Env env, Napi::Object exports) {}
