/* The Fractal runtime: a C API shaped like AscendCL, over simulated NPU devices.
 *
 *   frtInit(NULL);                          one device: the edge chip, timing mode
 *   frtSetDevice(0);                        make device 0 (its default context) current
 *   frtMalloc(&dev, bytes, FRT_MEM_MALLOC_HUGE_FIRST);
 *   frtMemcpy(dev, bytes, host, bytes, FRT_MEMCPY_HOST_TO_DEVICE);
 *   frtLoadKernelFromFile("gemm.bin", &kernel);
 *   frtLaunchKernel(kernel, blocks, args, nargs, stream);
 *   frtSynchronizeStream(stream);
 *
 * Every call returns FRT_SUCCESS or an error code; frtGetRecentErrMsg() explains the last error of
 * the calling thread. Device pointers are opaque: they are not host addresses. docs/runtime.md has
 * the full reference and a complete example. Thread-safe: any thread may call any function.
 */
#ifndef FRACTAL_RUNTIME_H
#define FRACTAL_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int frtError;
#define FRT_SUCCESS 0
#define FRT_ERROR_INVALID_PARAM 100000      /* a null pointer, a bad size or enum value */
#define FRT_ERROR_UNINITIALIZED 100001      /* frtInit was not called (or frtFinalize was) */
#define FRT_ERROR_REPEAT_INITIALIZE 100002
#define FRT_ERROR_INVALID_FILE 100003       /* a kernel or config that does not load */
#define FRT_ERROR_INVALID_DEVICE 100004
#define FRT_ERROR_INVALID_HANDLE 100005     /* a context, stream, event or kernel that is not live */
#define FRT_ERROR_INVALID_POINTER 100006    /* not a live device allocation of this device */
#define FRT_ERROR_OUT_OF_MEMORY 100007
#define FRT_ERROR_NO_CONTEXT 100008         /* the thread has no current context: frtSetDevice */
#define FRT_ERROR_DEVICE_FAULT 100009       /* a kernel faulted on the device */
#define FRT_ERROR_INTERNAL 500000

typedef struct frtContextImpl *frtContext;
typedef struct frtStreamImpl *frtStream;     /* NULL means the context's default stream */
typedef struct frtEventImpl *frtEvent;
typedef struct frtKernelImpl *frtKernel;

typedef enum {
  FRT_MEMCPY_HOST_TO_HOST = 0,
  FRT_MEMCPY_HOST_TO_DEVICE = 1,
  FRT_MEMCPY_DEVICE_TO_HOST = 2,
  FRT_MEMCPY_DEVICE_TO_DEVICE = 3,
} frtMemcpyKind;

typedef enum { FRT_MEM_MALLOC_HUGE_FIRST = 0, FRT_MEM_MALLOC_NORMAL_ONLY = 2 } frtMemMallocPolicy;
typedef enum { FRT_EVENT_NOT_READY = 0, FRT_EVENT_COMPLETE = 1 } frtEventStatus;

typedef struct {
  char target[32];       /* chip config name, e.g. "edge" */
  char mode[16];         /* "functional", "timing" or "rtl" */
  uint32_t aiCores;
  double clockMhz;
  uint64_t memoryBytes;  /* device global memory */
} frtDeviceInfo;

/* devices: NULL for one "edge" device in timing mode, or a comma-separated list of
 * TARGET[:MODE] (TARGET a preset name or a chip config path), e.g. "edge,cloud:functional". */
frtError frtInit(const char *devices);
frtError frtFinalize(void);
const char *frtGetRecentErrMsg(void);

frtError frtGetDeviceCount(uint32_t *count);
frtError frtSetDevice(int32_t deviceId);
frtError frtResetDevice(int32_t deviceId);
frtError frtGetDevice(int32_t *deviceId);
frtError frtGetDeviceInfo(int32_t deviceId, frtDeviceInfo *info);
/* Device memory of the current context's device (aclrtGetMemInfo): its size, and what no live
 * allocation holds (frtMalloc's, loaded models' and kernels'). */
frtError frtGetMemInfo(size_t *freeBytes, size_t *totalBytes);
/* How long a kernel launch may run on the current context's device, in simulated milliseconds
 * (aclrtSetOpExecuteTimeOut); 0 restores the default, FRT_DEFAULT_OP_TIMEOUT_MS. A launch still
 * running then stops with FRT_ERROR_DEVICE_FAULT naming the kernel and where each core stood. In
 * functional mode, which keeps no time, the bound is as many scalar instructions per core as the
 * chip has cycles in that time (a scalar instruction takes a cycle at least), and as many cycles
 * of any pipe's work (cube fractals, bytes at the unit's fastest rate). Applies to launches
 * that start after the call, models' and frtLaunchKernel's. */
#define FRT_DEFAULT_OP_TIMEOUT_MS 200
frtError frtSetOpExecuteTimeOut(uint32_t milliseconds);

frtError frtCreateContext(frtContext *context, int32_t deviceId);
frtError frtDestroyContext(frtContext context);
frtError frtSetCurrentContext(frtContext context);
frtError frtGetCurrentContext(frtContext *context);

frtError frtCreateStream(frtStream *stream);
frtError frtDestroyStream(frtStream stream);
frtError frtSynchronizeStream(frtStream stream);

frtError frtCreateEvent(frtEvent *event);
frtError frtDestroyEvent(frtEvent event);
frtError frtRecordEvent(frtEvent event, frtStream stream);
frtError frtSynchronizeEvent(frtEvent event);
frtError frtQueryEventStatus(frtEvent event, frtEventStatus *status);
/* Makes `stream` (NULL: the current default stream) wait, without blocking the caller, until the
 * event's newest record at the time of the call has completed (aclrtStreamWaitEvent): the work
 * queued on the stream afterwards starts after the work before that record, in host order and in
 * simulated device time. The event must have been recorded. */
frtError frtStreamWaitEvent(frtStream stream, frtEvent event);
/* Simulated device time between two completed events, in milliseconds. */
frtError frtEventElapsedTime(float *ms, frtEvent start, frtEvent end);

frtError frtMalloc(void **devPtr, size_t size, frtMemMallocPolicy policy);
frtError frtFree(void *devPtr);
frtError frtMemset(void *devPtr, size_t maxCount, int32_t value, size_t count);
frtError frtMemcpy(void *dst, size_t destMax, const void *src, size_t count, frtMemcpyKind kind);
frtError frtMemsetAsync(void *devPtr, size_t maxCount, int32_t value, size_t count, frtStream stream);
frtError frtMemcpyAsync(void *dst, size_t destMax, const void *src, size_t count,
                        frtMemcpyKind kind, frtStream stream);
/* Host memory for staging inputs and outputs (aclrtMallocHost): zero-filled, page-backed, and
 * returned to the OS by frtFreeHost (a large malloc'ed buffer can stay in the process's heap after
 * free). Any host pointer works with frtMemcpy; these are freed by frtFinalize at the latest. */
frtError frtMallocHost(void **hostPtr, size_t size);
frtError frtFreeHost(void *hostPtr);

/* Kernels (kernel binaries from `fractal asm` or the compiler) load onto the current device. */
frtError frtLoadKernelFromFile(const char *path, frtKernel *kernel);
frtError frtLoadKernelFromMem(const void *data, size_t size, frtKernel *kernel);
frtError frtUnloadKernel(frtKernel kernel);
/* args: 64-bit words the kernel reads at its `args` special register (device pointers are passed
 * as returned by frtMalloc). */
frtError frtLaunchKernel(frtKernel kernel, uint32_t blockDim, const uint64_t *args, size_t numArgs,
                         frtStream stream);

/* ---- models (aclmdl*): compiled model packages (.fpk) loaded on the current context's device ---- */

typedef struct frtModelImpl *frtModel;
typedef struct frtDatasetImpl *frtDataset;

/* Element types, numbered as AscendCL's aclDataType. */
typedef enum {
  FRT_FLOAT = 0,
  FRT_FLOAT16 = 1,
  FRT_INT8 = 2,
  FRT_INT32 = 3,
  FRT_UINT8 = 4,
  FRT_INT16 = 6,
  FRT_UINT16 = 7,
  FRT_UINT32 = 8,
  FRT_INT64 = 9,
  FRT_UINT64 = 10,
  FRT_DOUBLE = 11,
  FRT_BOOL = 12,
} frtDataType;

#define FRT_MAX_DIMS 16
typedef struct {
  char name[256];           /* the ONNX input/output name (truncated if longer) */
  frtDataType dataType;
  uint32_t numDims;
  int64_t dims[FRT_MAX_DIMS];
  size_t size;              /* bytes of the tensor's data */
} frtTensorDesc;

/* Loading checks the package completely (checksum, every offset and index, every kernel) and that
 * it was compiled for this device's chip config; then weights and kernels go into device memory. */
frtError frtModelLoadFromFile(const char *path, frtModel *model);
frtError frtModelLoadFromMem(const void *data, size_t size, frtModel *model);
frtError frtModelUnload(frtModel model);
/* The device memory a package needs once loaded (aclmdlQuerySize), to see whether it fits
 * (frtGetMemInfo) before loading: weightSize, its read-only part (the weights and other constants,
 * the kernels' data sections); workSize, the rest of its memory plan (inputs, outputs and
 * intermediate tensors, which the compiler overlaps where their lifetimes allow). Loading
 * allocates their sum; each launch adds a few argument words while it runs. The package is
 * checked as loading checks it, but for its target. */
frtError frtModelQuerySize(const char *path, size_t *workSize, size_t *weightSize);
frtError frtModelQuerySizeFromMem(const void *data, size_t size, size_t *workSize, size_t *weightSize);
frtError frtModelGetNumInputs(frtModel model, size_t *count);
frtError frtModelGetNumOutputs(frtModel model, size_t *count);
frtError frtModelGetInputDesc(frtModel model, size_t index, frtTensorDesc *desc);
/* An output whose extent along one axis depends on the data (NonZero, NonMaxSuppression, ...)
 * shows -1 there; its size is the bound's (what a buffer for it needs). frtGetDatasetTensorDesc
 * says what an execution wrote. */
frtError frtModelGetOutputDesc(frtModel model, size_t index, frtTensorDesc *desc);

/* A dataset lists device buffers (from frtMalloc), one per model input or output, in order. */
frtError frtCreateDataset(frtDataset *dataset);
frtError frtDestroyDataset(frtDataset dataset);
frtError frtAddDatasetBuffer(frtDataset dataset, void *devPtr, size_t size);
frtError frtGetDatasetNumBuffers(frtDataset dataset, size_t *count);
/* (aclmdlGetDatasetTensorDesc) The actual shape and size of output `index` as the last finished
 * execution that used this dataset for its outputs wrote it: a data-dependent output holds that
 * many elements, densely, at the start of its buffer. An error before any such execution. */
frtError frtGetDatasetTensorDesc(frtDataset dataset, size_t index, frtTensorDesc *desc);

/* Runs the model's task graph: kernels on the AI cores, host-fallback ops on the host. Execute
 * waits for the result; ExecuteAsync queues it on a stream (frtSynchronizeStream reports faults).
 * Executions of one model are serialised; different models run concurrently. */
frtError frtModelExecute(frtModel model, frtDataset inputs, frtDataset outputs);
frtError frtModelExecuteAsync(frtModel model, frtDataset inputs, frtDataset outputs, frtStream stream);

#ifdef __cplusplus
}
#endif

#endif /* FRACTAL_RUNTIME_H */
