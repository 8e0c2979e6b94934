/* The OpenFX image-effect C ABI, as far as Unshutter uses it.
 *
 * Written for this project from the OpenFX specification's description of
 * the ABI (struct layouts, suite function order, action and property
 * strings). It is not a copy of the OpenFX headers: only what the plugin and
 * the test host need is declared, and the string constants keep the
 * specification's names without the leading 'k' as C++ constexpr values.
 *
 * Both ofx_bridge/src (the plugin) and ofx_bridge/harness (the test host)
 * include it, so they cannot disagree about the ABI.
 */
#ifndef UNSHUTTER_OFX_ABI_H
#define UNSHUTTER_OFX_ABI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ core types */
typedef int OfxStatus;
typedef double OfxTime;

typedef struct OfxPropertySetStruct* OfxPropertySetHandle;
typedef struct OfxImageEffectStruct* OfxImageEffectHandle;
typedef struct OfxImageClipStruct* OfxImageClipHandle;
typedef struct OfxParamStruct* OfxParamHandle;
typedef struct OfxParamSetStruct* OfxParamSetHandle;
typedef struct OfxImageMemoryStruct* OfxImageMemoryHandle;
typedef struct OfxMutex* OfxMutexHandle;

typedef struct OfxRectI {
    int x1, y1, x2, y2;
} OfxRectI;
typedef struct OfxRectD {
    double x1, y1, x2, y2;
} OfxRectD;
typedef struct OfxRangeD {
    double min, max;
} OfxRangeD;
typedef struct OfxPointD {
    double x, y;
} OfxPointD;

typedef struct OfxHost {
    OfxPropertySetHandle host;
    const void* (*fetchSuite)(OfxPropertySetHandle host, const char* suiteName, int suiteVersion);
} OfxHost;

typedef OfxStatus (*OfxPluginEntryPoint)(const char* action, const void* handle, OfxPropertySetHandle inArgs,
                                         OfxPropertySetHandle outArgs);

typedef struct OfxPlugin {
    const char* pluginApi;
    int apiVersion;
    const char* pluginIdentifier;
    unsigned int pluginVersionMajor;
    unsigned int pluginVersionMinor;
    void (*setHost)(OfxHost* host);
    OfxPluginEntryPoint mainEntry;
} OfxPlugin;

/* ------------------------------------------------------------ status codes */
enum {
    kOfxStatOK = 0,
    kOfxStatFailed = 1,
    kOfxStatErrFatal = 2,
    kOfxStatErrUnknown = 3,
    kOfxStatErrMissingHostFeature = 4,
    kOfxStatErrUnsupported = 5,
    kOfxStatErrExists = 6,
    kOfxStatErrFormat = 7,
    kOfxStatErrMemory = 8,
    kOfxStatErrBadHandle = 9,
    kOfxStatErrBadIndex = 10,
    kOfxStatErrValue = 11,
    kOfxStatReplyYes = 12,
    kOfxStatReplyNo = 13,
    kOfxStatReplyDefault = 14
};

/* ------------------------------------------------------------ suites */
typedef struct OfxPropertySuiteV1 {
    OfxStatus (*propSetPointer)(OfxPropertySetHandle, const char*, int, void*);
    OfxStatus (*propSetString)(OfxPropertySetHandle, const char*, int, const char*);
    OfxStatus (*propSetDouble)(OfxPropertySetHandle, const char*, int, double);
    OfxStatus (*propSetInt)(OfxPropertySetHandle, const char*, int, int);
    OfxStatus (*propSetPointerN)(OfxPropertySetHandle, const char*, int, void* const*);
    OfxStatus (*propSetStringN)(OfxPropertySetHandle, const char*, int, const char* const*);
    OfxStatus (*propSetDoubleN)(OfxPropertySetHandle, const char*, int, const double*);
    OfxStatus (*propSetIntN)(OfxPropertySetHandle, const char*, int, const int*);
    OfxStatus (*propGetPointer)(OfxPropertySetHandle, const char*, int, void**);
    OfxStatus (*propGetString)(OfxPropertySetHandle, const char*, int, char**);
    OfxStatus (*propGetDouble)(OfxPropertySetHandle, const char*, int, double*);
    OfxStatus (*propGetInt)(OfxPropertySetHandle, const char*, int, int*);
    OfxStatus (*propGetPointerN)(OfxPropertySetHandle, const char*, int, void**);
    OfxStatus (*propGetStringN)(OfxPropertySetHandle, const char*, int, char**);
    OfxStatus (*propGetDoubleN)(OfxPropertySetHandle, const char*, int, double*);
    OfxStatus (*propGetIntN)(OfxPropertySetHandle, const char*, int, int*);
    OfxStatus (*propReset)(OfxPropertySetHandle, const char*);
    OfxStatus (*propGetDimension)(OfxPropertySetHandle, const char*, int*);
} OfxPropertySuiteV1;

typedef struct OfxImageEffectSuiteV1 {
    OfxStatus (*getPropertySet)(OfxImageEffectHandle, OfxPropertySetHandle*);
    OfxStatus (*getParamSet)(OfxImageEffectHandle, OfxParamSetHandle*);
    OfxStatus (*clipDefine)(OfxImageEffectHandle, const char* name, OfxPropertySetHandle*);
    OfxStatus (*clipGetHandle)(OfxImageEffectHandle, const char* name, OfxImageClipHandle*, OfxPropertySetHandle*);
    OfxStatus (*clipGetPropertySet)(OfxImageClipHandle, OfxPropertySetHandle*);
    OfxStatus (*clipGetImage)(OfxImageClipHandle, OfxTime, const OfxRectD* region, OfxPropertySetHandle* image);
    OfxStatus (*clipReleaseImage)(OfxPropertySetHandle image);
    OfxStatus (*clipGetRegionOfDefinition)(OfxImageClipHandle, OfxTime, OfxRectD* bounds);
    int (*abort)(OfxImageEffectHandle);
    OfxStatus (*imageMemoryAlloc)(OfxImageEffectHandle, size_t nBytes, OfxImageMemoryHandle*);
    OfxStatus (*imageMemoryFree)(OfxImageMemoryHandle);
    OfxStatus (*imageMemoryLock)(OfxImageMemoryHandle, void**);
    OfxStatus (*imageMemoryUnlock)(OfxImageMemoryHandle);
} OfxImageEffectSuiteV1;

/* Value getters/setters are variadic: int* / double* / char** out-pointers
 * (one per dimension) when getting; int / double / const char* when setting. */
typedef struct OfxParameterSuiteV1 {
    OfxStatus (*paramDefine)(OfxParamSetHandle, const char* paramType, const char* name, OfxPropertySetHandle*);
    OfxStatus (*paramGetHandle)(OfxParamSetHandle, const char* name, OfxParamHandle*, OfxPropertySetHandle*);
    OfxStatus (*paramSetGetPropertySet)(OfxParamSetHandle, OfxPropertySetHandle*);
    OfxStatus (*paramGetPropertySet)(OfxParamHandle, OfxPropertySetHandle*);
    OfxStatus (*paramGetValue)(OfxParamHandle, ...);
    OfxStatus (*paramGetValueAtTime)(OfxParamHandle, OfxTime, ...);
    OfxStatus (*paramGetDerivative)(OfxParamHandle, OfxTime, ...);
    OfxStatus (*paramGetIntegral)(OfxParamHandle, OfxTime, OfxTime, ...);
    OfxStatus (*paramSetValue)(OfxParamHandle, ...);
    OfxStatus (*paramSetValueAtTime)(OfxParamHandle, OfxTime, ...);
    OfxStatus (*paramGetNumKeys)(OfxParamHandle, unsigned int*);
    OfxStatus (*paramGetKeyTime)(OfxParamHandle, unsigned int, OfxTime*);
    OfxStatus (*paramGetKeyIndex)(OfxParamHandle, OfxTime, int direction, int*);
    OfxStatus (*paramDeleteKey)(OfxParamHandle, OfxTime);
    OfxStatus (*paramDeleteAllKeys)(OfxParamHandle);
    OfxStatus (*paramCopy)(OfxParamHandle to, OfxParamHandle from, OfxTime offset, const OfxRangeD* range);
    OfxStatus (*paramEditBegin)(OfxParamSetHandle, const char* name);
    OfxStatus (*paramEditEnd)(OfxParamSetHandle);
} OfxParameterSuiteV1;

typedef struct OfxMemorySuiteV1 {
    OfxStatus (*memoryAlloc)(void* handle, size_t nBytes, void** data);
    OfxStatus (*memoryFree)(void* data);
} OfxMemorySuiteV1;

typedef OfxStatus(OfxThreadFunctionV1)(unsigned int threadIndex, unsigned int threadMax, void* customArg);
typedef struct OfxMultiThreadSuiteV1 {
    OfxStatus (*multiThread)(OfxThreadFunctionV1 func, unsigned int nThreads, void* customArg);
    OfxStatus (*multiThreadNumCPUs)(unsigned int* nCPUs);
    OfxStatus (*multiThreadIndex)(unsigned int* threadIndex);
    int (*multiThreadIsSpawnedThread)(void);
    OfxStatus (*mutexCreate)(OfxMutexHandle* mutex, int lockCount);
    OfxStatus (*mutexDestroy)(const OfxMutexHandle mutex);
    OfxStatus (*mutexLock)(const OfxMutexHandle mutex);
    OfxStatus (*mutexUnLock)(const OfxMutexHandle mutex);
    OfxStatus (*mutexTryLock)(const OfxMutexHandle mutex);
} OfxMultiThreadSuiteV1;

typedef struct OfxMessageSuiteV1 {
    OfxStatus (*message)(void* handle, const char* messageType, const char* messageId, const char* format, ...);
} OfxMessageSuiteV1;

typedef struct OfxMessageSuiteV2 {
    OfxStatus (*message)(void* handle, const char* messageType, const char* messageId, const char* format, ...);
    OfxStatus (*setPersistentMessage)(void* handle, const char* messageType, const char* messageId, const char* format,
                                      ...);
    OfxStatus (*clearPersistentMessage)(void* handle);
} OfxMessageSuiteV2;

typedef struct OfxProgressSuiteV1 {
    OfxStatus (*progressStart)(void* effectInstance, const char* label);
    OfxStatus (*progressUpdate)(void* effectInstance, double progress);
    OfxStatus (*progressEnd)(void* effectInstance);
} OfxProgressSuiteV1;

typedef struct OfxProgressSuiteV2 {
    OfxStatus (*progressStart)(void* effectInstance, const char* message, const char* messageId);
    OfxStatus (*progressUpdate)(void* effectInstance, double progress);
    OfxStatus (*progressEnd)(void* effectInstance);
} OfxProgressSuiteV2;

#ifdef __cplusplus
} /* extern "C" */

/* ------------------------------------------------------------ strings
 * Each constant's value is its specification name without the leading 'k'
 * (NOTES.md lists the exceptions, marked "exception" below). */
namespace ofx {

// plug-in API and suites
constexpr const char* ImageEffectPluginApi = "OfxImageEffectPluginAPI";
constexpr int ImageEffectPluginApiVersion = 1;
constexpr const char* PropertySuite = "OfxPropertySuite";
constexpr const char* ImageEffectSuite = "OfxImageEffectSuite";
constexpr const char* ParameterSuite = "OfxParameterSuite";
constexpr const char* MemorySuite = "OfxMemorySuite";
constexpr const char* MultiThreadSuite = "OfxMultiThreadSuite";
constexpr const char* MessageSuite = "OfxMessageSuite";
constexpr const char* ProgressSuite = "OfxProgressSuite";

// actions
constexpr const char* ActionLoad = "OfxActionLoad";
constexpr const char* ActionUnload = "OfxActionUnload";
constexpr const char* ActionDescribe = "OfxActionDescribe";
constexpr const char* ActionCreateInstance = "OfxActionCreateInstance";
constexpr const char* ActionDestroyInstance = "OfxActionDestroyInstance";
constexpr const char* ActionInstanceChanged = "OfxActionInstanceChanged";
constexpr const char* ActionBeginInstanceChanged = "OfxActionBeginInstanceChanged";
constexpr const char* ActionEndInstanceChanged = "OfxActionEndInstanceChanged";
constexpr const char* ActionPurgeCaches = "OfxActionPurgeCaches";
constexpr const char* ActionSyncPrivateData = "OfxActionSyncPrivateData";
constexpr const char* ImageEffectActionDescribeInContext = "OfxImageEffectActionDescribeInContext";
constexpr const char* ImageEffectActionGetRegionOfDefinition = "OfxImageEffectActionGetRegionOfDefinition";
constexpr const char* ImageEffectActionGetRegionsOfInterest = "OfxImageEffectActionGetRegionsOfInterest";
constexpr const char* ImageEffectActionGetTimeDomain = "OfxImageEffectActionGetTimeDomain";
constexpr const char* ImageEffectActionGetFramesNeeded = "OfxImageEffectActionGetFramesNeeded";
constexpr const char* ImageEffectActionGetClipPreferences = "OfxImageEffectActionGetClipPreferences";
constexpr const char* ImageEffectActionIsIdentity = "OfxImageEffectActionIsIdentity";
constexpr const char* ImageEffectActionRender = "OfxImageEffectActionRender";
constexpr const char* ImageEffectActionBeginSequenceRender = "OfxImageEffectActionBeginSequenceRender";
constexpr const char* ImageEffectActionEndSequenceRender = "OfxImageEffectActionEndSequenceRender";

// object types
constexpr const char* PropType = "OfxPropType";
constexpr const char* TypeImageEffectHost = "OfxTypeImageEffectHost";
constexpr const char* TypeImageEffect = "OfxTypeImageEffect";
constexpr const char* TypeImageEffectInstance = "OfxTypeImageEffectInstance";
constexpr const char* TypeClip = "OfxTypeClip";
constexpr const char* TypeImage = "OfxTypeImage";
constexpr const char* TypeParameter = "OfxTypeParameter";
constexpr const char* TypeParameterInstance = "OfxTypeParameterInstance";

// generic properties
constexpr const char* PropName = "OfxPropName";
constexpr const char* PropLabel = "OfxPropLabel";
constexpr const char* PropShortLabel = "OfxPropShortLabel";
constexpr const char* PropLongLabel = "OfxPropLongLabel";
constexpr const char* PropTime = "OfxPropTime";
constexpr const char* PropInstanceData = "OfxPropInstanceData";
constexpr const char* PropAPIVersion = "OfxPropAPIVersion";
constexpr const char* PropVersion = "OfxPropVersion";
constexpr const char* PropVersionLabel = "OfxPropVersionLabel";
constexpr const char* PropPluginDescription = "OfxPropPluginDescription";
constexpr const char* PropIsInteractive = "OfxPropIsInteractive";
constexpr const char* PropChangeReason = "OfxPropChangeReason";
constexpr const char* PluginPropFilePath = "OfxPluginPropFilePath";

// image effect (descriptor / instance / host) properties
constexpr const char* ImageEffectPluginPropGrouping = "OfxImageEffectPluginPropGrouping";
constexpr const char* ImageEffectPluginPropSingleInstance = "OfxImageEffectPluginPropSingleInstance";
constexpr const char* ImageEffectPluginRenderThreadSafety = "OfxImageEffectPluginRenderThreadSafety";
constexpr const char* ImageEffectRenderFullySafe = "OfxImageEffectRenderFullySafe";
constexpr const char* ImageEffectRenderInstanceSafe = "OfxImageEffectRenderInstanceSafe";
constexpr const char* ImageEffectRenderUnsafe = "OfxImageEffectRenderUnsafe";
constexpr const char* ImageEffectPluginPropHostFrameThreading = "OfxImageEffectPluginPropHostFrameThreading";
constexpr const char* ImageEffectPluginPropFieldRenderTwiceAlways = "OfxImageEffectPluginPropFieldRenderTwiceAlways";
constexpr const char* ImageEffectPropSupportedContexts = "OfxImageEffectPropSupportedContexts";
constexpr const char* ImageEffectPropContext = "OfxImageEffectPropContext";
constexpr const char* ImageEffectContextGeneral = "OfxImageEffectContextGeneral";
constexpr const char* ImageEffectContextFilter = "OfxImageEffectContextFilter";
constexpr const char* ImageEffectContextRetimer = "OfxImageEffectContextRetimer";
constexpr const char* ImageEffectPropSupportedPixelDepths = "OfxImageEffectPropSupportedPixelDepths";
constexpr const char* ImageEffectPropSupportedComponents = "OfxImageEffectPropSupportedComponents";
constexpr const char* ImageEffectPropTemporalClipAccess = "OfxImageEffectPropTemporalClipAccess";
constexpr const char* ImageEffectPropSupportsTiles = "OfxImageEffectPropSupportsTiles";
constexpr const char* ImageEffectPropSupportsMultiResolution = "OfxImageEffectPropSupportsMultiResolution";
constexpr const char* ImageEffectPropSupportsMultipleClipDepths = "OfxImageEffectPropMultipleClipDepths";  // exception
constexpr const char* ImageEffectPropSupportsMultipleClipPARs = "OfxImageEffectPropSupportsMultipleClipPARs";
constexpr const char* ImageEffectPropFrameRange = "OfxImageEffectPropFrameRange";
constexpr const char* ImageEffectPropUnmappedFrameRange = "OfxImageEffectPropUnmappedFrameRange";
constexpr const char* ImageEffectPropFrameRate = "OfxImageEffectPropFrameRate";
constexpr const char* ImageEffectPropFrameStep = "OfxImageEffectPropFrameStep";
constexpr const char* ImageEffectPropRenderScale = "OfxImageEffectPropRenderScale";
constexpr const char* ImageEffectPropRenderWindow = "OfxImageEffectPropRenderWindow";
constexpr const char* ImageEffectPropFieldToRender = "OfxImageEffectPropFieldToRender";
constexpr const char* ImageEffectPropRegionOfDefinition = "OfxImageEffectPropRegionOfDefinition";
constexpr const char* ImageEffectPropRegionOfInterest = "OfxImageEffectPropRegionOfInterest";
constexpr const char* ImageEffectPropPixelDepth = "OfxImageEffectPropPixelDepth";
constexpr const char* ImageEffectPropComponents = "OfxImageEffectPropComponents";
constexpr const char* ImageEffectPropPreMultiplication = "OfxImageEffectPropPreMultiplication";
constexpr const char* ImageEffectPropProjectSize = "OfxImageEffectPropProjectSize";
constexpr const char* ImageEffectPropProjectOffset = "OfxImageEffectPropProjectOffset";
constexpr const char* ImageEffectPropProjectExtent = "OfxImageEffectPropProjectExtent";
constexpr const char* ImageEffectPropProjectPixelAspectRatio = "OfxImageEffectPropPixelAspectRatio";  // exception
constexpr const char* ImageEffectInstancePropEffectDuration = "OfxImageEffectInstancePropEffectDuration";
constexpr const char* ImageEffectInstancePropSequentialRender = "OfxImageEffectInstancePropSequentialRender";
constexpr const char* ImageEffectPropSequentialRenderStatus = "OfxImageEffectPropSequentialRenderStatus";
constexpr const char* ImageEffectFrameVarying = "OfxImageEffectFrameVarying";
constexpr const char* ImageEffectHostPropIsBackground = "OfxImageEffectHostPropIsBackground";
constexpr const char* ImageEffectOutputClipName = "Output";
constexpr const char* ImageEffectSimpleSourceClipName = "Source";
constexpr const char* ImageEffectRetimerParamName = "SourceTime";

// clips
constexpr const char* ImageClipPropOptional = "OfxImageClipPropOptional";
constexpr const char* ImageClipPropIsMask = "OfxImageClipPropIsMask";
constexpr const char* ImageClipPropConnected = "OfxImageClipPropConnected";
constexpr const char* ImageClipPropContinuousSamples = "OfxImageClipPropContinuousSamples";
constexpr const char* ImageClipPropUnmappedPixelDepth = "OfxImageClipPropUnmappedPixelDepth";
constexpr const char* ImageClipPropUnmappedComponents = "OfxImageClipPropUnmappedComponents";
constexpr const char* ImageClipPropFieldExtraction = "OfxImageClipPropFieldExtraction";
constexpr const char* ImageClipPropFieldOrder = "OfxImageClipPropFieldOrder";
// per-clip out-arguments: the prefix followed by the clip's name
constexpr const char* ImageClipPropComponentsPrefix = "OfxImageClipPropComponents_";
constexpr const char* ImageClipPropDepthPrefix = "OfxImageClipPropDepth_";
constexpr const char* ImageClipPropPARPrefix = "OfxImageClipPropPAR_";
constexpr const char* ImageClipPropRoIPrefix = "OfxImageClipPropRoI_";
constexpr const char* ImageClipPropFrameRangePrefix = "OfxImageClipPropFrameRange_";

// images
constexpr const char* ImagePropData = "OfxImagePropData";
constexpr const char* ImagePropBounds = "OfxImagePropBounds";
constexpr const char* ImagePropRegionOfDefinition = "OfxImagePropRegionOfDefinition";
constexpr const char* ImagePropRowBytes = "OfxImagePropRowBytes";
constexpr const char* ImagePropPixelAspectRatio = "OfxImagePropPixelAspectRatio";
constexpr const char* ImagePropField = "OfxImagePropField";
constexpr const char* ImagePropUniqueIdentifier = "OfxImagePropUniqueIdentifier";
constexpr const char* ImageFieldNone = "OfxFieldNone";
constexpr const char* ImageOpaque = "OfxImageOpaque";
constexpr const char* ImagePreMultiplied = "OfxImageAlphaPremultiplied";
constexpr const char* ImageUnPreMultiplied = "OfxImageAlphaUnPremultiplied";

// pixel depths and components
constexpr const char* BitDepthNone = "OfxBitDepthNone";
constexpr const char* BitDepthByte = "OfxBitDepthByte";
constexpr const char* BitDepthShort = "OfxBitDepthShort";
constexpr const char* BitDepthHalf = "OfxBitDepthHalf";
constexpr const char* BitDepthFloat = "OfxBitDepthFloat";
constexpr const char* ImageComponentNone = "OfxImageComponentNone";
constexpr const char* ImageComponentRGBA = "OfxImageComponentRGBA";
constexpr const char* ImageComponentRGB = "OfxImageComponentRGB";
constexpr const char* ImageComponentAlpha = "OfxImageComponentAlpha";

// parameters
constexpr const char* ParamTypeInteger = "OfxParamTypeInteger";
constexpr const char* ParamTypeDouble = "OfxParamTypeDouble";
constexpr const char* ParamTypeDouble2D = "OfxParamTypeDouble2D";
constexpr const char* ParamTypeBoolean = "OfxParamTypeBoolean";
constexpr const char* ParamTypeChoice = "OfxParamTypeChoice";
constexpr const char* ParamTypeString = "OfxParamTypeString";
constexpr const char* ParamTypeGroup = "OfxParamTypeGroup";
constexpr const char* ParamTypePage = "OfxParamTypePage";
constexpr const char* ParamPropDefault = "OfxParamPropDefault";
constexpr const char* ParamPropMin = "OfxParamPropMin";
constexpr const char* ParamPropMax = "OfxParamPropMax";
constexpr const char* ParamPropDisplayMin = "OfxParamPropDisplayMin";
constexpr const char* ParamPropDisplayMax = "OfxParamPropDisplayMax";
constexpr const char* ParamPropHint = "OfxParamPropHint";
constexpr const char* ParamPropScriptName = "OfxParamPropScriptName";
constexpr const char* ParamPropParent = "OfxParamPropParent";
constexpr const char* ParamPropAnimates = "OfxParamPropAnimates";
constexpr const char* ParamPropEvaluateOnChange = "OfxParamPropEvaluateOnChange";
constexpr const char* ParamPropIncrement = "OfxParamPropIncrement";
constexpr const char* ParamPropDigits = "OfxParamPropDigits";
constexpr const char* ParamPropChoiceOption = "OfxParamPropChoiceOption";
constexpr const char* ParamPropStringMode = "OfxParamPropStringMode";
constexpr const char* ParamStringIsFilePath = "OfxParamStringIsFilePath";
constexpr const char* ParamPropStringFilePathExists = "OfxParamPropStringFilePathExists";
constexpr const char* ParamPropDoubleType = "OfxParamPropDoubleType";
constexpr const char* ParamDoubleTypePlain = "OfxParamDoubleTypePlain";
constexpr const char* ParamDoubleTypeAngle = "OfxParamDoubleTypeAngle";
constexpr const char* ParamDoubleTypeTime = "OfxParamDoubleTypeTime";
constexpr const char* ParamDoubleTypeXY = "OfxParamDoubleTypeXY";

// messages
constexpr const char* MessageError = "OfxMessageError";
constexpr const char* MessageWarning = "OfxMessageWarning";
constexpr const char* MessageMessage = "OfxMessageMessage";
constexpr const char* MessageLog = "OfxMessageLog";

}  // namespace ofx
#endif /* __cplusplus */

#endif /* UNSHUTTER_OFX_ABI_H */
