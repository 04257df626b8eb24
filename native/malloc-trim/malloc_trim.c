// glibc keeps memory that native code frees (llama.cpp's loader, node-llama-cpp's per-evaluation
// buffers) in its arenas instead of returning it; only malloc_trim(0) releases free pages inside
// them, not just at the top of the heap. Node has no other way to call it.
#include <malloc.h>
#include <node_api.h>

static napi_value MallocTrim(napi_env env, napi_callback_info info) {
  napi_value released;
  napi_get_boolean(env, malloc_trim(0) == 1, &released);
  return released;
}

NAPI_MODULE_INIT() {
  napi_value function;
  napi_create_function(env, "mallocTrim", NAPI_AUTO_LENGTH, MallocTrim, NULL, &function);
  napi_set_named_property(env, exports, "mallocTrim", function);
  return exports;
}
