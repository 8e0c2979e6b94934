// Unshutter "Deblur to Slow Motion": the OpenFX image effect.
//
// The effect turns each blurred source frame into N sharp sub-frames and
// lays them out N times slower. The decomposition runs in the long-lived
// `unshutter worker` process (worker_client.cpp); this file describes the
// effect to the host, maps output time to (source frame, sub-frame) and moves
// pixels between the host's images and the worker's shared memory.
//
// Time mapping (DESIGN.md numbering): for a source clip starting at frame a,
// output frame a + (f - a) * N + k shows sub-frame k of source frame f.
// - General context: getTimeDomain makes the output N times longer.
// - Filter context: the host keeps the clip length; output time t shows
//   source time a + (t - a) / N (extend the clip to see all of it).
// - Retimer context: the host's SourceTime picks frame floor(s) and sub-frame
//   floor(frac(s) * N).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#include "json_lite.hpp"
#include "pixels.hpp"
#include "unshutter_ofx/ofx_abi.h"
#include "worker_client.hpp"

#define UNSHUTTER_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using namespace unshutter;

// ------------------------------------------------------------------ identity
constexpr const char* kPluginIdentifier = "org.unshutter.DeblurToSlowMotion";
constexpr unsigned kPluginVersionMajor = 1;  // a major bump means parameters changed incompatibly
constexpr unsigned kPluginVersionMinor = 2;  // 1.1: Input colour; 1.2: Timing, Follow motion
constexpr const char* kPluginLabel = "Deblur to Slow Motion";
constexpr const char* kPluginGrouping = "Unshutter";
constexpr const char* kPluginDescription =
    "Decomposes each motion-blurred frame into N sharp sub-frames in the right temporal order and lays them out "
    "N times slower (sub-frame k of source frame f becomes output frame a + (f-a)*N + k). Guidance comes from "
    "optical flow on the neighbouring frames, a direction you choose, an override file or the Guide matte. "
    "The work runs in the 'unshutter worker' process (set UNSHUTTER_EXECUTABLE if the host cannot find it).";
constexpr const char* kClipGuide = "Guide";
constexpr const char* kClipVectors = "Vectors";  // a motion-vector pass: R, G = x, y in px per frame

// ------------------------------------------------------------------ parameters: id / label / hint
constexpr const char* kParamFactor = "factor";
constexpr const char* kParamFactorLabel = "Factor";
constexpr const char* kParamFactorHint =
    "Sub-frames per source frame: the output is this many times slower (2-16). In the General context the clip "
    "becomes this many times longer; in the Filter context extend the clip to see all of it.";
constexpr const char* kParamShutter = "shutterAngle";
constexpr const char* kParamShutterLabel = "Shutter angle";
constexpr const char* kParamShutterHint =
    "Shutter angle the source was shot with, in degrees (360 = the exposure lasts the whole frame interval). "
    "The sub-frames cover the exposure.";
constexpr const char* kParamTiming = "timing";
constexpr const char* kParamTimingLabel = "Timing";
constexpr const char* kParamTimingHint =
    "When the N output frames of a source frame are shown. Even: at equal steps of 1/N of the frame interval, so "
    "the slow motion looks shot at N times the frame rate at any shutter angle; below 360 degrees the outputs "
    "that fall while the shutter was closed are interpolated toward the next source frame along the motion. "
    "Exposure only: all N share the exposure (below 360 degrees playback jumps across the closed shutter).";
constexpr const char* kParamFollow = "followMotion";
constexpr const char* kParamFollowLabel = "Follow motion";
constexpr const char* kParamFollowHint =
    "0-2: how closely the sub-frames follow the motion estimated from the neighbouring frames. 0 keeps the "
    "decomposer's own sub-frames; 1 carries the mid-exposure frame along the motion where the flow to the "
    "previous and to the next frame agree; 2 everywhere (more motion and detail, but content carried the "
    "wrong way where the flow is wrong); 1.25 (the default) a quarter of the way from 1 to 2. At a 360 degree shutter "
    "each output also blends "
    "toward the neighbouring frames' (two source frames either side are then read).";
constexpr const char* kParamGuidance = "guidance";
constexpr const char* kParamGuidanceLabel = "Guidance";
constexpr const char* kParamGuidanceHint =
    "How the time order of the motion is decided: Neighbours = optical flow to the previous and next source "
    "frames (stops at hard cuts); None = no guidance (order may flip); Left/Right/Up/Down = the whole frame "
    "moves that way.";
constexpr const char* kParamReverse = "reverse";
constexpr const char* kParamReverseLabel = "Reverse";
constexpr const char* kParamReverseHint = "Reverse the time order of the whole shot (when it plays backwards).";
constexpr const char* kParamGuideDirection = "guideDirection";
constexpr const char* kParamGuideDirectionLabel = "Guide matte direction";
constexpr const char* kParamGuideDirectionHint =
    "Direction forced where the Guide matte (its alpha, or first channel) is at least 0.5; applied after the "
    "override file. Only used when the Guide input is connected.";
constexpr const char* kParamGuideMotion = "guideMotion";
constexpr const char* kParamGuideMotionLabel = "Guide matte motion";
constexpr const char* kParamGuideMotionHint =
    "Motion where the Guide matte is at least 0.5, in pixels per exposure at full resolution (x right, y down; "
    "e.g. 40, 0 = 40 px to the right while the shutter is open); replaces the flow there with a soft edge and "
    "wins over the Guide matte direction. Scaled with the host's render scale. (0, 0): use the direction.";
constexpr const char* kParamVectorsY = "vectorsY";
constexpr const char* kParamVectorsYLabel = "Vectors y direction";
constexpr const char* kParamVectorsYHint =
    "Which way a positive y (G) of the Vectors input points: Up (Nuke and Blender, origin at the bottom left) or "
    "Down (image rows). The Vectors input is a motion-vector pass (R, G: x, y per frame, in pixels at full "
    "resolution, scaled with the host's render scale, or as Vectors units says); connected, it replaces the "
    "optical flow as the motion.";
constexpr const char* kParamVectorsPoints = "vectorsPoints";
constexpr const char* kParamVectorsPointsLabel = "Vectors point";
constexpr const char* kParamVectorsPointsHint =
    "Forward: the Vectors input's vectors point where a pixel goes in the next frame (Nuke's forward layer). "
    "Backward: they point against the motion (Nuke's backward layer, Blender's Vector pass).";
constexpr const char* kParamVectorsUnits = "vectorsUnits";
constexpr const char* kParamVectorsUnitsLabel = "Vectors units";
constexpr const char* kParamVectorsUnitsHint =
    "Pixels: the Vectors input holds pixels per frame at full resolution (Nuke, Blender). NDC: -1 to 1 across the "
    "frame (pixels = value x width / 2, y by the height), UV: 0 to 1 across it (pixels = value x width), as "
    "real-time engines' velocity buffers hold them; both follow the render scale with the frame's size.";
constexpr const char* kParamOverrides = "overrideFile";
constexpr const char* kParamOverridesLabel = "Override file";
constexpr const char* kParamOverridesHint =
    "Optional per-shot override file (YAML/JSON, or labelme JSON) with reversed ranges, directions and regions; "
    "frame numbers are source frame numbers, polygons and mattes full-resolution pixels (scaled to the host's "
    "render scale for proxy renders).";
constexpr const char* kParamColorspace = "colorspace";
constexpr const char* kParamColorspaceLabel = "Input colour";
constexpr const char* kParamColorspaceHint =
    "How the source's pixel values are encoded. The sub-frames must average back to the source in linear light, "
    "so encoded values are linearised before the decomposition and the sub-frames encoded back the same way. "
    "Auto: float and half images are scene-linear, 16-bit and 8-bit images sRGB. Linear: no conversion. "
    "sRGB: the sRGB curve. Rec.709: the BT.709 camera curve (OETF).";
constexpr const char* kParamQuality = "quality";
constexpr const char* kParamQualityLabel = "Quality";
constexpr const char* kParamQualityHint =
    "Full decomposes at the image's resolution and deblurs the mid-exposure frame along the motion; Draft "
    "decomposes at half resolution, adds the detail back and skips that deblurring (about 4x faster, for previews).";
constexpr const char* kParamTile = "tileSize";
constexpr const char* kParamTileLabel = "Tile size";
constexpr const char* kParamTileHint =
    "Frames larger than this (px) are decomposed in overlapping, feathered tiles to bound memory; the progress "
    "bar advances tile by tile, and the host's abort or cancel is checked between tiles.";
constexpr const char* kParamThreshold = "staticThreshold";
constexpr const char* kParamThresholdLabel = "Static threshold";
constexpr const char* kParamThresholdHint =
    "Motion below this many pixels per exposure counts as static (scaled with the host's render scale).";

struct ChoiceOption {
    const char* label;
    const char* value;  // the worker's name
};
enum GuidanceOption {
    eGuidanceNeighbours = 0,
    eGuidanceNone,
    eGuidanceLeft,
    eGuidanceRight,
    eGuidanceUp,
    eGuidanceDown,
    eGuidanceCount
};
constexpr ChoiceOption kGuidanceOptions[] = {{"Neighbours", "neighbors"}, {"None", "none"}, {"Left", "left"},
                                             {"Right", "right"},          {"Up", "up"},     {"Down", "down"}};
static_assert(sizeof(kGuidanceOptions) / sizeof(kGuidanceOptions[0]) == eGuidanceCount, "guidance options");
enum GuideDirectionOption { eGuideLeft = 0, eGuideRight, eGuideUp, eGuideDown, eGuideStatic, eGuideCount };
constexpr ChoiceOption kGuideDirectionOptions[] = {
    {"Left", "left"}, {"Right", "right"}, {"Up", "up"}, {"Down", "down"}, {"Static", "static"}};
static_assert(sizeof(kGuideDirectionOptions) / sizeof(kGuideDirectionOptions[0]) == eGuideCount, "guide options");
enum VectorsYOption { eVectorsYUp = 0, eVectorsYDown, eVectorsYCount };
constexpr ChoiceOption kVectorsYOptions[] = {{"Up (Nuke, Blender)", "up"}, {"Down (image rows)", "down"}};
static_assert(sizeof(kVectorsYOptions) / sizeof(kVectorsYOptions[0]) == eVectorsYCount, "vectors y options");
enum VectorsPointsOption { eVectorsForward = 0, eVectorsBackward, eVectorsPointsCount };
constexpr ChoiceOption kVectorsPointsOptions[] = {{"Forward", "forward"}, {"Backward", "backward"}};
static_assert(sizeof(kVectorsPointsOptions) / sizeof(kVectorsPointsOptions[0]) == eVectorsPointsCount,
              "vectors point options");
enum VectorsUnitsOption { eVectorsPx = 0, eVectorsNdc, eVectorsUv, eVectorsUnitsCount };
constexpr ChoiceOption kVectorsUnitsOptions[] = {{"Pixels", "px"}, {"NDC (-1 to 1)", "ndc"}, {"UV (0 to 1)", "uv"}};
static_assert(sizeof(kVectorsUnitsOptions) / sizeof(kVectorsUnitsOptions[0]) == eVectorsUnitsCount,
              "vectors units options");
enum ColorspaceOption { eColorspaceAuto = 0, eColorspaceLinear, eColorspaceSRGB, eColorspaceRec709, eColorspaceCount };
constexpr ChoiceOption kColorspaceOptions[] = {
    {"Auto", "auto"}, {"Linear", "linear"}, {"sRGB", "srgb"}, {"Rec.709", "rec709"}};
static_assert(sizeof(kColorspaceOptions) / sizeof(kColorspaceOptions[0]) == eColorspaceCount, "colour options");
enum QualityOption { eQualityFull = 0, eQualityDraft, eQualityCount };
constexpr ChoiceOption kQualityOptions[] = {{"Full", "full"}, {"Draft", "draft"}};
static_assert(sizeof(kQualityOptions) / sizeof(kQualityOptions[0]) == eQualityCount, "quality options");
enum TimingOption { eTimingEven = 0, eTimingExposure, eTimingCount };
constexpr ChoiceOption kTimingOptions[] = {{"Even", "even"}, {"Exposure only", "exposure"}};
static_assert(sizeof(kTimingOptions) / sizeof(kTimingOptions[0]) == eTimingCount, "timing options");

constexpr int kFactorMin = 2, kFactorMax = 16, kFactorDefault = 4;
constexpr double kFollowDefault = 1.25;                              // NodeParams.follow
constexpr double kFollowMax = 2.0;                                   // node.FOLLOW_MAX
constexpr long long kBlendPixels = 2048LL * 1080;                    // retime.BLEND_PIXELS
constexpr int kTileMin = 176, kTileMax = 16384, kTileDefault = 768;  // the decomposer needs >= 2*80+16

// ------------------------------------------------------------------ host
OfxHost* gHost = nullptr;
const OfxPropertySuiteV1* gProp = nullptr;
const OfxImageEffectSuiteV1* gEffect = nullptr;
const OfxParameterSuiteV1* gParam = nullptr;
const OfxMessageSuiteV1* gMsgV1 = nullptr;
const OfxMessageSuiteV2* gMsgV2 = nullptr;
const OfxProgressSuiteV1* gProgV1 = nullptr;
const OfxProgressSuiteV2* gProgV2 = nullptr;

void set_host(OfxHost* host) {
    gHost = host;
}

template <class Suite>
const Suite* fetch(const char* name, int version) {
    if (!gHost || !gHost->fetchSuite) return nullptr;
    return static_cast<const Suite*>(gHost->fetchSuite(gHost->host, name, version));
}

// Property helpers (errors are ignored where a host may lack a property).
void set_str(OfxPropertySetHandle p, const char* name, const char* v, int i = 0) {
    gProp->propSetString(p, name, i, v);
}
void set_int(OfxPropertySetHandle p, const char* name, int v, int i = 0) {
    gProp->propSetInt(p, name, i, v);
}
void set_dbl(OfxPropertySetHandle p, const char* name, double v, int i = 0) {
    gProp->propSetDouble(p, name, i, v);
}
std::string get_str(OfxPropertySetHandle p, const char* name, int i = 0) {
    char* v = nullptr;
    return gProp->propGetString(p, name, i, &v) == kOfxStatOK && v ? std::string(v) : std::string();
}
int get_int(OfxPropertySetHandle p, const char* name, int dflt = 0, int i = 0) {
    int v = dflt;
    return gProp->propGetInt(p, name, i, &v) == kOfxStatOK ? v : dflt;
}
double get_dbl(OfxPropertySetHandle p, const char* name, double dflt = 0, int i = 0) {
    double v = dflt;
    return gProp->propGetDouble(p, name, i, &v) == kOfxStatOK ? v : dflt;
}

// ------------------------------------------------------------------ instance
struct Instance {
    OfxImageEffectHandle handle = nullptr;
    std::string context;
    OfxImageClipHandle source = nullptr, guide = nullptr, vectors = nullptr, output = nullptr;
    OfxParamHandle factor = nullptr, shutter = nullptr, guidance = nullptr, reverse = nullptr,
                   guide_direction = nullptr, guide_motion = nullptr, overrides = nullptr, colorspace = nullptr,
                   quality = nullptr, tile = nullptr, threshold = nullptr, timing = nullptr, follow = nullptr,
                   source_time = nullptr, vectors_y = nullptr, vectors_points = nullptr, vectors_units = nullptr;
    std::atomic<bool> persistent_message{false};  // render threads share the instance
    std::mutex warning_mutex;
    std::string warning;  // the persistent warning on show ("" when none): set again only when it changes
};

Instance* instance_of(OfxImageEffectHandle effect) {
    OfxPropertySetHandle props = nullptr;
    if (gEffect->getPropertySet(effect, &props) != kOfxStatOK) return nullptr;
    void* p = nullptr;
    gProp->propGetPointer(props, ofx::PropInstanceData, 0, &p);
    return static_cast<Instance*>(p);
}

int param_int(OfxParamHandle h, double t, int dflt) {
    int v = dflt;
    if (h) gParam->paramGetValueAtTime(h, t, &v);
    return v;
}
constexpr double kMotionMax = 10000.0;  // px per exposure, what the worker accepts

// A Double2D parameter's (x, y), or (0, 0) without the parameter.
std::pair<double, double> param_dbl2(OfxParamHandle h, double t) {
    double x = 0.0, y = 0.0;
    if (h && gParam->paramGetValueAtTime(h, t, &x, &y) != kOfxStatOK) x = y = 0.0;
    if (!std::isfinite(x) || !std::isfinite(y)) x = y = 0.0;
    return {std::clamp(x, -kMotionMax, kMotionMax), std::clamp(y, -kMotionMax, kMotionMax)};
}

double param_dbl(OfxParamHandle h, double t, double dflt) {
    double v = dflt;
    if (h) gParam->paramGetValueAtTime(h, t, &v);
    return v;
}
std::string param_str(OfxParamHandle h, double t) {
    char* v = nullptr;
    if (h && gParam->paramGetValueAtTime(h, t, &v) == kOfxStatOK && v) return v;
    return {};
}

int factor_at(const Instance& in, double t) {
    return std::clamp(param_int(in.factor, t, kFactorDefault), kFactorMin, kFactorMax);
}
double shutter_at(const Instance& in, double t) {
    return std::clamp(param_dbl(in.shutter, t, 360.0), 1.0, 360.0);
}
int timing_at(const Instance& in, double t) {
    return std::clamp(param_int(in.timing, t, eTimingEven), 0, eTimingCount - 1);
}

// How many of a source frame's n outputs lie inside the exposure (plugin/unshutter/timing.py `schedule`): with
// even timing below 360 degrees the rest fall in the closed-shutter gap, and those are interpolated toward the
// next source frame's first output, whose decomposition reads the frame after it.
int inside_outputs(const Instance& in, double t, int n) {
    const double e = shutter_at(in, t) / 360.0;
    if (n == 1 || timing_at(in, t) == eTimingExposure || e >= 1.0) return n;
    int inside = 0;
    for (int j = 0; j < n; ++j) inside += (j + 0.5) / n < e ? 1 : 0;
    return std::max(inside, 1);
}

// Whether each output blends toward the previous and next frames' decompositions (plugin/unshutter/node.py
// `neighbours_needed`): at 360 degrees, with two or more outputs, while they follow the motion.
bool blends(const Instance& in, double t, int n) {
    const double follow_raw = param_dbl(in.follow, t, kFollowDefault);
    const double follow = std::isfinite(follow_raw) ? std::clamp(follow_raw, 0.0, kFollowMax) : kFollowDefault;
    return n >= 2 && shutter_at(in, t) >= 360.0 && follow > 0.0;
}

bool clip_connected(OfxImageClipHandle clip) {
    if (!clip) return false;
    OfxPropertySetHandle props = nullptr;
    if (gEffect->clipGetPropertySet(clip, &props) != kOfxStatOK) return false;
    return get_int(props, ofx::ImageClipPropConnected, 0) != 0;
}

// The source clip's frame range [a, b] (integers).
void source_range(const Instance& in, long& a, long& b) {
    OfxPropertySetHandle props = nullptr;
    gEffect->clipGetPropertySet(in.source, &props);
    double lo = get_dbl(props, ofx::ImageEffectPropFrameRange, 0.0, 0);
    double hi = get_dbl(props, ofx::ImageEffectPropFrameRange, lo, 1);
    a = std::lround(std::ceil(lo - 1e-6));
    b = std::max(a, static_cast<long>(std::lround(std::floor(hi + 1e-6))));
}

long floor_div(long x, long n) {
    return x >= 0 ? x / n : -((-x + n - 1) / n);
}

// Output time -> (source frame f, sub-frame k), clamped to the source clip.
void map_time(const Instance& in, double t, long& f, int& k) {
    long a, b;
    source_range(in, a, b);
    const int n = factor_at(in, t);
    if (in.context == ofx::ImageEffectContextRetimer) {
        const double s = param_dbl(in.source_time, t, t);
        f = static_cast<long>(std::floor(s + 1e-6));
        k = std::clamp(static_cast<int>(std::floor((s - f) * n + 1e-6)), 0, n - 1);
    } else {
        const long idx = static_cast<long>(std::floor(t - a + 1e-6));
        f = a + floor_div(idx, n);
        k = static_cast<int>(idx - floor_div(idx, n) * n);
    }
    if (f < a) {
        f = a;
        k = 0;
    }
    if (f > b) {
        f = b;
        k = n - 1;
    }
}

// ------------------------------------------------------------------ messages
void report_error(Instance* in, const std::string& msg) {
    std::fprintf(stderr, "Unshutter: %s\n", msg.c_str());
    {
        std::lock_guard<std::mutex> lock(in->warning_mutex);
        in->warning.clear();  // the error replaces it: the next good render shows it again
    }
    if (gMsgV2) {
        gMsgV2->setPersistentMessage(in->handle, ofx::MessageError, "unshutter.render", "%s", msg.c_str());
        in->persistent_message = true;
    } else if (gMsgV1) {
        gMsgV1->message(in->handle, ofx::MessageError, "unshutter.render", "%s", msg.c_str());
    }
}

void clear_error(Instance* in) {
    {
        std::lock_guard<std::mutex> lock(in->warning_mutex);
        in->warning.clear();
    }
    if (in->persistent_message.exchange(false) && gMsgV2) gMsgV2->clearPersistentMessage(in->handle);
}

// A render that worked but has something to say (the worker's one line: override ranges that miss the
// clip): a persistent warning on the node, said once per text, not once per frame.
void report_warning(Instance* in, const std::string& msg) {
    {
        std::lock_guard<std::mutex> lock(in->warning_mutex);
        if (in->warning == msg) return;
        in->warning = msg;
    }
    std::fprintf(stderr, "Unshutter: warning: %s\n", msg.c_str());
    if (gMsgV2) {
        gMsgV2->setPersistentMessage(in->handle, ofx::MessageWarning, "unshutter.overrides", "%s", msg.c_str());
        in->persistent_message = true;
    } else if (gMsgV1) {
        gMsgV1->message(in->handle, ofx::MessageWarning, "unshutter.overrides", "%s", msg.c_str());
    }
}

// The host's progress bar for one render: kProgressSent once the pixels are in shared memory, then the
// decomposition's tiles as the worker reports them, up to kProgressDecomposed when it answers. A
// progressUpdate answered kOfxStatReplyNo (the host's cancel button) is remembered: the render stops
// as it does when the host's abort() says so.
constexpr double kProgressSent = 0.05, kProgressDecomposed = 0.95;
constexpr double kProgressHeartbeatS = 0.2;  // an unchanged bar is still updated this often, to see a cancel

double monotonic_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class Progress {
public:
    Progress(void* h, const char* label) : handle_(h) {
        if (gProgV2)
            started_ = gProgV2->progressStart(h, label, "unshutter.render") == kOfxStatOK;
        else if (gProgV1)
            started_ = gProgV1->progressStart(h, label) == kOfxStatOK;
    }
    ~Progress() {
        if (!started_) return;
        if (gProgV2)
            gProgV2->progressEnd(handle_);
        else if (gProgV1)
            gProgV1->progressEnd(handle_);
    }
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // Show p (never less than already shown: a restarted worker counts its tiles again); false once cancelled.
    bool update(double p) {
        if (!started_ || cancelled_) return !cancelled_;
        p = std::max(p, shown_);
        const double now = monotonic_s();
        if (p == shown_ && now - last_call_ < kProgressHeartbeatS) return true;
        shown_ = p;
        last_call_ = now;
        const OfxStatus s = gProgV2 ? gProgV2->progressUpdate(handle_, p) : gProgV1->progressUpdate(handle_, p);
        cancelled_ = s == kOfxStatReplyNo;
        return !cancelled_;
    }

    // Move the bar to the worker's tile count in `shm` (polled while the render waits for the worker).
    bool follow(const SharedBuffer& shm) {
        uint32_t done = 0, total = 0;
        if (!shm.tiles(done, total)) return update(kProgressSent);
        return update(kProgressSent + (kProgressDecomposed - kProgressSent) * done / total);
    }

private:
    void* handle_ = nullptr;
    bool started_ = false, cancelled_ = false;
    double shown_ = 0.0, last_call_ = 0.0;
};

// ------------------------------------------------------------------ images
class Image {
public:
    Image(OfxImageClipHandle clip, double t) {
        if (clip && gEffect->clipGetImage(clip, t, nullptr, &props_) != kOfxStatOK) props_ = nullptr;
        if (!props_) return;
        void* data = nullptr;
        gProp->propGetPointer(props_, ofx::ImagePropData, 0, &data);
        int bounds[4] = {0, 0, 0, 0};
        gProp->propGetIntN(props_, ofx::ImagePropBounds, 4, bounds);
        view_.data = static_cast<uint8_t*>(data);
        view_.x1 = bounds[0];
        view_.y1 = bounds[1];
        view_.x2 = bounds[2];
        view_.y2 = bounds[3];
        view_.row_bytes = get_int(props_, ofx::ImagePropRowBytes, 0);
        const std::string comps = get_str(props_, ofx::ImageEffectPropComponents);
        view_.components = comps == ofx::ImageComponentRGBA    ? 4
                           : comps == ofx::ImageComponentRGB   ? 3
                           : comps == ofx::ImageComponentAlpha ? 1
                                                               : 0;
        const std::string depth = get_str(props_, ofx::ImageEffectPropPixelDepth);
        format_ = comps + " " + depth;
        depth_ok_ = true;
        if (depth == ofx::BitDepthFloat)
            view_.depth = Depth::Float;
        else if (depth == ofx::BitDepthHalf)
            view_.depth = Depth::Half;
        else if (depth == ofx::BitDepthShort)
            view_.depth = Depth::Short;
        else if (depth == ofx::BitDepthByte)
            view_.depth = Depth::Byte;
        else
            depth_ok_ = false;
    }
    ~Image() {
        if (props_) gEffect->clipReleaseImage(props_);
    }
    Image(const Image&) = delete;
    Image& operator=(const Image&) = delete;
    bool valid() const { return props_ && view_.data && view_.width() > 0 && view_.height() > 0; }
    bool supported() const { return valid() && depth_ok_ && view_.components > 0; }
    const ImageView& view() const { return view_; }
    // Components and depth as the host named them, for error messages.
    const std::string& format() const { return format_; }

private:
    OfxPropertySetHandle props_ = nullptr;
    std::string format_;
    ImageView view_;
    bool depth_ok_ = false;
};

void load_rgb_any(const ImageView& v, float* out) {
    switch (v.depth) {
        case Depth::Byte:
            load_rgb<Depth::Byte>(v, out);
            break;
        case Depth::Short:
            load_rgb<Depth::Short>(v, out);
            break;
        case Depth::Half:
            load_rgb<Depth::Half>(v, out);
            break;
        case Depth::Float:
            load_rgb<Depth::Float>(v, out);
            break;
    }
}
void load_matte_any(const ImageView& v, const ImageView& ref, float* out) {
    switch (v.depth) {
        case Depth::Byte:
            load_matte<Depth::Byte>(v, ref.x1, ref.y1, ref.x2, ref.y2, out);
            break;
        case Depth::Short:
            load_matte<Depth::Short>(v, ref.x1, ref.y1, ref.x2, ref.y2, out);
            break;
        case Depth::Half:
            load_matte<Depth::Half>(v, ref.x1, ref.y1, ref.x2, ref.y2, out);
            break;
        case Depth::Float:
            load_matte<Depth::Float>(v, ref.x1, ref.y1, ref.x2, ref.y2, out);
            break;
    }
}
void load_uv_any(const ImageView& v, const ImageView& ref, float* out) {
    switch (v.depth) {
        case Depth::Byte:
            load_uv<Depth::Byte>(v, ref.x1, ref.y1, ref.x2, ref.y2, out);
            break;
        case Depth::Short:
            load_uv<Depth::Short>(v, ref.x1, ref.y1, ref.x2, ref.y2, out);
            break;
        case Depth::Half:
            load_uv<Depth::Half>(v, ref.x1, ref.y1, ref.x2, ref.y2, out);
            break;
        case Depth::Float:
            load_uv<Depth::Float>(v, ref.x1, ref.y1, ref.x2, ref.y2, out);
            break;
    }
}
void store_any(const ImageView& out, const int window[4], const ImageView& src, const float* rgb) {
    switch (out.depth) {
        case Depth::Byte:
            store_rgba<Depth::Byte>(out, window, src, rgb);
            break;
        case Depth::Short:
            store_rgba<Depth::Short>(out, window, src, rgb);
            break;
        case Depth::Half:
            store_rgba<Depth::Half>(out, window, src, rgb);
            break;
        case Depth::Float:
            store_rgba<Depth::Float>(out, window, src, rgb);
            break;
    }
}

bool same_bounds(const ImageView& a, const ImageView& b) {
    return a.x1 == b.x1 && a.y1 == b.y1 && a.x2 == b.x2 && a.y2 == b.y2;
}

std::string fmt_double(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

// The worker's name for the Input colour choice; Auto follows the bit depth (float and half images are
// scene-linear, integer images display-encoded).
const char* colorspace_for(int choice, Depth depth) {
    choice = std::clamp(choice, 0, eColorspaceCount - 1);
    if (choice != eColorspaceAuto) return kColorspaceOptions[choice].value;
    return depth == Depth::Float || depth == Depth::Half ? kColorspaceOptions[eColorspaceLinear].value
                                                         : kColorspaceOptions[eColorspaceSRGB].value;
}

// ------------------------------------------------------------------ describe
OfxStatus describe(OfxImageEffectHandle effect) {
    OfxPropertySetHandle p = nullptr;
    gEffect->getPropertySet(effect, &p);
    set_str(p, ofx::PropLabel, kPluginLabel);
    set_str(p, ofx::PropShortLabel, "Unshutter");
    set_str(p, ofx::PropLongLabel, "Unshutter: Deblur to Slow Motion");
    set_str(p, ofx::PropPluginDescription, kPluginDescription);
    set_str(p, ofx::ImageEffectPluginPropGrouping, kPluginGrouping);
    set_str(p, ofx::ImageEffectPropSupportedContexts, ofx::ImageEffectContextGeneral, 0);
    set_str(p, ofx::ImageEffectPropSupportedContexts, ofx::ImageEffectContextFilter, 1);
    set_str(p, ofx::ImageEffectPropSupportedContexts, ofx::ImageEffectContextRetimer, 2);
    const char* depths[] = {ofx::BitDepthFloat, ofx::BitDepthHalf, ofx::BitDepthShort, ofx::BitDepthByte};
    for (int i = 0; i < 4; ++i) set_str(p, ofx::ImageEffectPropSupportedPixelDepths, depths[i], i);
    set_int(p, ofx::ImageEffectPropTemporalClipAccess, 1);
    set_int(p, ofx::ImageEffectPropSupportsTiles, 0);
    set_int(p, ofx::ImageEffectPropSupportsMultiResolution, 1);
    set_int(p, ofx::ImageEffectPropSupportsMultipleClipDepths, 0);
    set_int(p, ofx::ImageEffectPluginPropSingleInstance, 0);
    set_int(p, ofx::ImageEffectPluginPropHostFrameThreading, 0);
    set_str(p, ofx::ImageEffectPluginRenderThreadSafety, ofx::ImageEffectRenderFullySafe);
    set_int(p, ofx::ImageEffectPluginPropFieldRenderTwiceAlways, 0);
    return kOfxStatOK;
}

OfxPropertySetHandle define_param(OfxParamSetHandle params, const char* type, const char* id, const char* label,
                                  const char* hint) {
    OfxPropertySetHandle p = nullptr;
    if (gParam->paramDefine(params, type, id, &p) != kOfxStatOK || !p) return nullptr;
    set_str(p, ofx::PropLabel, label);
    set_str(p, ofx::ParamPropHint, hint);
    set_str(p, ofx::ParamPropScriptName, id);
    set_int(p, ofx::ParamPropAnimates, 0);  // a source frame's N sub-frames must share one setting
    return p;
}

void define_choice(OfxParamSetHandle params, const char* id, const char* label, const char* hint,
                   const ChoiceOption* options, int count, int dflt) {
    OfxPropertySetHandle p = define_param(params, ofx::ParamTypeChoice, id, label, hint);
    if (!p) return;
    for (int i = 0; i < count; ++i) set_str(p, ofx::ParamPropChoiceOption, options[i].label, i);
    set_int(p, ofx::ParamPropDefault, dflt);
}

void define_int(OfxParamSetHandle params, const char* id, const char* label, const char* hint, int dflt, int lo, int hi,
                int dlo, int dhi) {
    OfxPropertySetHandle p = define_param(params, ofx::ParamTypeInteger, id, label, hint);
    if (!p) return;
    set_int(p, ofx::ParamPropDefault, dflt);
    set_int(p, ofx::ParamPropMin, lo);
    set_int(p, ofx::ParamPropMax, hi);
    set_int(p, ofx::ParamPropDisplayMin, dlo);
    set_int(p, ofx::ParamPropDisplayMax, dhi);
}

OfxPropertySetHandle define_double(OfxParamSetHandle params, const char* id, const char* label, const char* hint,
                                   double dflt, double lo, double hi, double dlo, double dhi) {
    OfxPropertySetHandle p = define_param(params, ofx::ParamTypeDouble, id, label, hint);
    if (!p) return nullptr;
    set_dbl(p, ofx::ParamPropDefault, dflt);
    set_dbl(p, ofx::ParamPropMin, lo);
    set_dbl(p, ofx::ParamPropMax, hi);
    set_dbl(p, ofx::ParamPropDisplayMin, dlo);
    set_dbl(p, ofx::ParamPropDisplayMax, dhi);
    return p;
}

void define_clip(OfxImageEffectHandle effect, const char* name, bool optional, bool mask, bool temporal) {
    OfxPropertySetHandle p = nullptr;
    if (gEffect->clipDefine(effect, name, &p) != kOfxStatOK || !p) return;
    if (mask) {
        set_str(p, ofx::ImageEffectPropSupportedComponents, ofx::ImageComponentAlpha, 0);
        set_str(p, ofx::ImageEffectPropSupportedComponents, ofx::ImageComponentRGBA, 1);
        set_str(p, ofx::ImageEffectPropSupportedComponents, ofx::ImageComponentRGB, 2);
    } else {
        set_str(p, ofx::ImageEffectPropSupportedComponents, ofx::ImageComponentRGBA, 0);
        set_str(p, ofx::ImageEffectPropSupportedComponents, ofx::ImageComponentRGB, 1);
    }
    set_int(p, ofx::ImageEffectPropTemporalClipAccess, temporal ? 1 : 0);
    set_int(p, ofx::ImageEffectPropSupportsTiles, 0);
    set_int(p, ofx::ImageClipPropOptional, optional ? 1 : 0);
    set_int(p, ofx::ImageClipPropIsMask, mask ? 1 : 0);
}

OfxStatus describe_in_context(OfxImageEffectHandle effect, OfxPropertySetHandle in_args) {
    const std::string context = get_str(in_args, ofx::ImageEffectPropContext);
    if (context != ofx::ImageEffectContextGeneral && context != ofx::ImageEffectContextFilter &&
        context != ofx::ImageEffectContextRetimer)
        return kOfxStatErrUnsupported;
    define_clip(effect, ofx::ImageEffectSimpleSourceClipName, false, false, true);
    if (context == ofx::ImageEffectContextGeneral) {
        define_clip(effect, kClipGuide, true, true, false);
        define_clip(effect, kClipVectors, true, false, false);
    }
    define_clip(effect, ofx::ImageEffectOutputClipName, false, false, false);

    OfxParamSetHandle params = nullptr;
    gEffect->getParamSet(effect, &params);
    define_int(params, kParamFactor, kParamFactorLabel, kParamFactorHint, kFactorDefault, kFactorMin, kFactorMax,
               kFactorMin, kFactorMax);
    if (OfxPropertySetHandle p =
            define_double(params, kParamShutter, kParamShutterLabel, kParamShutterHint, 360.0, 1.0, 360.0, 45.0, 360.0))
        set_str(p, ofx::ParamPropDoubleType, ofx::ParamDoubleTypeAngle);
    define_choice(params, kParamTiming, kParamTimingLabel, kParamTimingHint, kTimingOptions, eTimingCount, eTimingEven);
    define_double(params, kParamFollow, kParamFollowLabel, kParamFollowHint, kFollowDefault, 0.0, kFollowMax, 0.0,
                  kFollowMax);
    define_choice(params, kParamColorspace, kParamColorspaceLabel, kParamColorspaceHint, kColorspaceOptions,
                  eColorspaceCount, eColorspaceAuto);
    define_choice(params, kParamGuidance, kParamGuidanceLabel, kParamGuidanceHint, kGuidanceOptions, eGuidanceCount,
                  eGuidanceNeighbours);
    if (OfxPropertySetHandle p =
            define_param(params, ofx::ParamTypeBoolean, kParamReverse, kParamReverseLabel, kParamReverseHint))
        set_int(p, ofx::ParamPropDefault, 0);
    if (context == ofx::ImageEffectContextGeneral) {
        define_choice(params, kParamGuideDirection, kParamGuideDirectionLabel, kParamGuideDirectionHint,
                      kGuideDirectionOptions, eGuideCount, eGuideRight);
        if (OfxPropertySetHandle p = define_param(params, ofx::ParamTypeDouble2D, kParamGuideMotion,
                                                  kParamGuideMotionLabel, kParamGuideMotionHint)) {
            for (int i = 0; i < 2; ++i) {
                set_dbl(p, ofx::ParamPropDefault, 0.0, i);
                set_dbl(p, ofx::ParamPropMin, -kMotionMax, i);
                set_dbl(p, ofx::ParamPropMax, kMotionMax, i);
                set_dbl(p, ofx::ParamPropDisplayMin, -100.0, i);
                set_dbl(p, ofx::ParamPropDisplayMax, 100.0, i);
            }
            set_str(p, ofx::ParamPropDoubleType, ofx::ParamDoubleTypeXY);
        }
        define_choice(params, kParamVectorsY, kParamVectorsYLabel, kParamVectorsYHint, kVectorsYOptions, eVectorsYCount,
                      eVectorsYUp);
        define_choice(params, kParamVectorsPoints, kParamVectorsPointsLabel, kParamVectorsPointsHint,
                      kVectorsPointsOptions, eVectorsPointsCount, eVectorsForward);
        define_choice(params, kParamVectorsUnits, kParamVectorsUnitsLabel, kParamVectorsUnitsHint, kVectorsUnitsOptions,
                      eVectorsUnitsCount, eVectorsPx);
    }
    if (OfxPropertySetHandle p =
            define_param(params, ofx::ParamTypeString, kParamOverrides, kParamOverridesLabel, kParamOverridesHint)) {
        set_str(p, ofx::ParamPropDefault, "");
        set_str(p, ofx::ParamPropStringMode, ofx::ParamStringIsFilePath);
        set_int(p, ofx::ParamPropStringFilePathExists, 1);
    }
    define_choice(params, kParamQuality, kParamQualityLabel, kParamQualityHint, kQualityOptions, eQualityCount,
                  eQualityFull);
    define_int(params, kParamTile, kParamTileLabel, kParamTileHint, kTileDefault, kTileMin, kTileMax, 256, 4096);
    define_double(params, kParamThreshold, kParamThresholdLabel, kParamThresholdHint, 0.5, 0.0, 100.0, 0.0, 5.0);
    if (context == ofx::ImageEffectContextRetimer) {
        // The retimer context's mandated parameter: the host animates it.
        OfxPropertySetHandle p = nullptr;
        if (gParam->paramDefine(params, ofx::ParamTypeDouble, ofx::ImageEffectRetimerParamName, &p) == kOfxStatOK &&
            p) {
            set_str(p, ofx::PropLabel, "Source time");
            set_str(p, ofx::ParamPropHint, "The source time shown at this output time (set by the host).");
            set_int(p, ofx::ParamPropAnimates, 1);
            set_str(p, ofx::ParamPropDoubleType, ofx::ParamDoubleTypeTime);
            set_dbl(p, ofx::ParamPropMin, -1e9);
            set_dbl(p, ofx::ParamPropMax, 1e9);
            set_dbl(p, ofx::ParamPropDisplayMin, 0.0);
            set_dbl(p, ofx::ParamPropDisplayMax, 1000.0);
        }
    }
    return kOfxStatOK;
}

// ------------------------------------------------------------------ instances
OfxStatus create_instance(OfxImageEffectHandle effect) {
    auto in = std::make_unique<Instance>();
    in->handle = effect;
    OfxPropertySetHandle props = nullptr;
    gEffect->getPropertySet(effect, &props);
    in->context = get_str(props, ofx::ImageEffectPropContext);
    OfxPropertySetHandle clip_props = nullptr;
    gEffect->clipGetHandle(effect, ofx::ImageEffectSimpleSourceClipName, &in->source, &clip_props);
    gEffect->clipGetHandle(effect, ofx::ImageEffectOutputClipName, &in->output, &clip_props);
    if (in->context == ofx::ImageEffectContextGeneral &&
        gEffect->clipGetHandle(effect, kClipGuide, &in->guide, &clip_props) != kOfxStatOK)
        in->guide = nullptr;
    if (in->context == ofx::ImageEffectContextGeneral &&
        gEffect->clipGetHandle(effect, kClipVectors, &in->vectors, &clip_props) != kOfxStatOK)
        in->vectors = nullptr;
    if (!in->source || !in->output) return kOfxStatErrBadHandle;
    OfxParamSetHandle params = nullptr;
    gEffect->getParamSet(effect, &params);
    auto handle = [&](const char* id) {
        OfxParamHandle h = nullptr;
        if (gParam->paramGetHandle(params, id, &h, nullptr) != kOfxStatOK) h = nullptr;
        return h;
    };
    in->factor = handle(kParamFactor);
    in->shutter = handle(kParamShutter);
    in->guidance = handle(kParamGuidance);
    in->reverse = handle(kParamReverse);
    in->guide_direction = handle(kParamGuideDirection);
    in->guide_motion = handle(kParamGuideMotion);
    in->overrides = handle(kParamOverrides);
    in->colorspace = handle(kParamColorspace);
    in->quality = handle(kParamQuality);
    in->tile = handle(kParamTile);
    in->threshold = handle(kParamThreshold);
    in->timing = handle(kParamTiming);
    in->follow = handle(kParamFollow);
    in->vectors_y = handle(kParamVectorsY);
    in->vectors_points = handle(kParamVectorsPoints);
    in->vectors_units = handle(kParamVectorsUnits);
    if (in->context == ofx::ImageEffectContextRetimer) in->source_time = handle(ofx::ImageEffectRetimerParamName);
    gProp->propSetPointer(props, ofx::PropInstanceData, 0, in.release());
    return kOfxStatOK;
}

OfxStatus destroy_instance(OfxImageEffectHandle effect) {
    Instance* in = instance_of(effect);
    OfxPropertySetHandle props = nullptr;
    if (gEffect->getPropertySet(effect, &props) == kOfxStatOK)
        gProp->propSetPointer(props, ofx::PropInstanceData, 0, nullptr);
    delete in;
    return kOfxStatOK;
}

// ------------------------------------------------------------------ time and regions
OfxStatus get_time_domain(Instance* in, OfxPropertySetHandle out_args) {
    if (in->context != ofx::ImageEffectContextGeneral) return kOfxStatReplyDefault;
    long a, b;
    source_range(*in, a, b);
    const int n = factor_at(*in, static_cast<double>(a));
    set_dbl(out_args, ofx::ImageEffectPropFrameRange, static_cast<double>(a), 0);
    set_dbl(out_args, ofx::ImageEffectPropFrameRange, static_cast<double>(a + (b - a + 1) * n - 1), 1);
    return kOfxStatOK;
}

OfxStatus get_frames_needed(Instance* in, OfxPropertySetHandle in_args, OfxPropertySetHandle out_args) {
    const double t = get_dbl(in_args, ofx::PropTime);
    long a, b, f;
    int k;
    source_range(*in, a, b);
    map_time(*in, t, f, k);
    const std::string src = std::string(ofx::ImageClipPropFrameRangePrefix) + ofx::ImageEffectSimpleSourceClipName;
    // a closed-shutter output also needs the next frame's decomposition, whose guidance reads the frame after it;
    // at 360 degrees every output blends toward the previous and next frames' decompositions
    const int n = factor_at(*in, t);
    const bool blend = blends(*in, t, n);
    const bool ahead = blend || k >= inside_outputs(*in, t, n);
    set_dbl(out_args, src.c_str(), static_cast<double>(std::max(a, f - (blend ? 2 : 1))), 0);
    set_dbl(out_args, src.c_str(), static_cast<double>(std::min(b, f + (ahead ? 2 : 1))), 1);
    if (in->guide) {
        const std::string g = std::string(ofx::ImageClipPropFrameRangePrefix) + kClipGuide;
        set_dbl(out_args, g.c_str(), static_cast<double>(std::max(a, f - (blend ? 1 : 0))), 0);
        set_dbl(out_args, g.c_str(), static_cast<double>(std::min(b, f + (ahead ? 1 : 0))), 1);
    }
    if (in->vectors) {  // the pass of each frame decomposed: the same frames as the Guide matte's
        const std::string v = std::string(ofx::ImageClipPropFrameRangePrefix) + kClipVectors;
        set_dbl(out_args, v.c_str(), static_cast<double>(std::max(a, f - (blend ? 1 : 0))), 0);
        set_dbl(out_args, v.c_str(), static_cast<double>(std::min(b, f + (ahead ? 1 : 0))), 1);
    }
    return kOfxStatOK;
}

OfxStatus get_region_of_definition(Instance* in, OfxPropertySetHandle in_args, OfxPropertySetHandle out_args) {
    long f;
    int k;
    map_time(*in, get_dbl(in_args, ofx::PropTime), f, k);
    OfxRectD rod{0, 0, 0, 0};
    if (gEffect->clipGetRegionOfDefinition(in->source, static_cast<double>(f), &rod) != kOfxStatOK)
        return kOfxStatReplyDefault;
    const double r[4] = {rod.x1, rod.y1, rod.x2, rod.y2};
    gProp->propSetDoubleN(out_args, ofx::ImageEffectPropRegionOfDefinition, 4, r);
    return kOfxStatOK;
}

OfxStatus get_regions_of_interest(Instance* in, OfxPropertySetHandle in_args, OfxPropertySetHandle out_args) {
    long f;
    int k;
    map_time(*in, get_dbl(in_args, ofx::PropTime), f, k);
    // The whole frame: the decomposition and the flow need all of it.
    auto full = [&](OfxImageClipHandle clip, const char* name) {
        OfxRectD rod{0, 0, 0, 0};
        if (gEffect->clipGetRegionOfDefinition(clip, static_cast<double>(f), &rod) != kOfxStatOK) return;
        const double r[4] = {rod.x1, rod.y1, rod.x2, rod.y2};
        const std::string prop = std::string(ofx::ImageClipPropRoIPrefix) + name;
        gProp->propSetDoubleN(out_args, prop.c_str(), 4, r);
    };
    full(in->source, ofx::ImageEffectSimpleSourceClipName);
    if (in->guide && clip_connected(in->guide)) full(in->guide, kClipGuide);
    if (in->vectors && clip_connected(in->vectors)) full(in->vectors, kClipVectors);
    return kOfxStatOK;
}

OfxStatus get_clip_preferences(Instance* in, OfxPropertySetHandle out_args) {
    OfxPropertySetHandle sp = nullptr;
    gEffect->clipGetPropertySet(in->source, &sp);
    std::string comps = get_str(sp, ofx::ImageEffectPropComponents);
    if (comps != ofx::ImageComponentRGB && comps != ofx::ImageComponentRGBA) comps = ofx::ImageComponentRGBA;
    const std::string depth = get_str(sp, ofx::ImageEffectPropPixelDepth);
    const std::string oc = std::string(ofx::ImageClipPropComponentsPrefix) + ofx::ImageEffectOutputClipName;
    set_str(out_args, oc.c_str(), comps.c_str());
    const std::string sc = std::string(ofx::ImageClipPropComponentsPrefix) + ofx::ImageEffectSimpleSourceClipName;
    set_str(out_args, sc.c_str(), comps.c_str());
    if (!depth.empty() && depth != ofx::BitDepthNone) {
        const std::string od = std::string(ofx::ImageClipPropDepthPrefix) + ofx::ImageEffectOutputClipName;
        set_str(out_args, od.c_str(), depth.c_str());
    }
    set_int(out_args, ofx::ImageEffectFrameVarying, 1);
    set_int(out_args, ofx::ImageClipPropContinuousSamples, 0);
    return kOfxStatOK;
}

// ------------------------------------------------------------------ render
// One render, in three parts: gather (the host's images and parameters at the output time), the worker
// request (the pixels into shared memory, one JSON request, its reply), and store (the sub-frame into the
// output image).

// What one output frame needs from the host.
struct RenderInputs {
    double t = 0.0;
    int window[4] = {0, 0, 0, 0};
    double scale_x = 1.0, scale_y = 1.0;  // the host's proxy scale: the images are that much smaller
    long a = 0, b = 0, f = 0;             // the source range and the source frame of this output
    int k = 0, n = 1;                     // sub-frame k of n
    std::unique_ptr<Image> out, cur, prev, next, next2, matte, next_matte, prev2, prev_matte, vectors, next_vectors,
        prev_vectors;
    bool use_prev = false, use_next = false, use_next2 = false, use_next_matte = false;
    bool use_prev2 = false, use_prev_matte = false;
    bool use_vectors = false, use_next_vectors = false, use_prev_vectors = false;
    bool gap = false;       // needs the next frame's decomposition (a closed-shutter output, or 360 degrees)
    bool behind = false;    // needs the previous frame's decomposition (360 degrees)
    std::string direction;  // the Guide matte's direction; empty without a usable matte
    bool has_matte_motion = false;
    double matte_motion[2] = {0.0, 0.0};  // full-resolution px (the worker scales it with render_scale)
};

// Byte offsets of the planes in the shared memory (0: not sent).
struct ShmLayout {
    size_t cur = 0, prev = 0, next = 0, next2 = 0, matte = 0, next_matte = 0, prev2 = 0, prev_matte = 0, vectors = 0,
           next_vectors = 0, prev_vectors = 0, out = 0, bytes = 0;
};

// The output and source images at the render's time, and what the request needs besides pixels.
// Anything but kOfxStatOK has been reported to the host already.
OfxStatus gather(Instance* in, OfxPropertySetHandle in_args, RenderInputs& r) {
    r.t = get_dbl(in_args, ofx::PropTime);
    const double t = r.t;
    gProp->propGetIntN(in_args, ofx::ImageEffectPropRenderWindow, 4, r.window);
    auto positive = [](double v, double dflt) { return std::isfinite(v) && v > 0.0 ? v : dflt; };
    r.scale_x = positive(get_dbl(in_args, ofx::ImageEffectPropRenderScale, 1.0, 0), 1.0);
    r.scale_y = positive(get_dbl(in_args, ofx::ImageEffectPropRenderScale, r.scale_x, 1), r.scale_x);
    source_range(*in, r.a, r.b);
    map_time(*in, t, r.f, r.k);
    r.n = factor_at(*in, t);
    const long f = r.f;

    r.out = std::make_unique<Image>(in->output, t);
    if (!r.out->valid()) {
        report_error(in, "the host gave no output image at time " + fmt_double(t));
        return kOfxStatFailed;
    }
    if (!r.out->supported()) {
        report_error(in,
                     "unsupported output image (" + r.out->format() + "): RGBA or RGB in float, half, 16-bit or 8-bit");
        return kOfxStatErrUnsupported;
    }
    r.cur = std::make_unique<Image>(in->source, static_cast<double>(f));
    if (!r.cur->valid()) {
        report_error(in, "no source image for frame " + std::to_string(f));
        return kOfxStatFailed;
    }
    if (!r.cur->supported() || r.cur->view().depth != r.out->view().depth) {
        report_error(in, "source frame " + std::to_string(f) + " is " + r.cur->format() + ", output is " +
                             r.out->format() +
                             ": both must be RGBA or RGB of one depth (float, half, 16-bit or 8-bit)");
        return kOfxStatErrUnsupported;
    }
    if (f - 1 >= r.a) r.prev = std::make_unique<Image>(in->source, static_cast<double>(f - 1));
    if (f + 1 <= r.b) r.next = std::make_unique<Image>(in->source, static_cast<double>(f + 1));
    // Neighbours only help when they line up with the frame (same size, same depth).
    const ImageView& cv = r.cur->view();
    auto usable = [&](const std::unique_ptr<Image>& im) {
        return im && im->supported() && same_bounds(im->view(), cv) && im->view().depth == cv.depth;
    };
    r.use_prev = usable(r.prev);
    r.use_next = usable(r.next);
    // A closed-shutter output is interpolated toward the next frame's first output: the worker decomposes the
    // next frame too, with the frame after it (and the next frame's Guide matte) for that frame's guidance.
    // At 360 degrees every output also blends toward the previous and next frames' decompositions (frames up to
    // retime.BLEND_PIXELS: larger ones are not blended).
    const bool blend = blends(*in, t, r.n) && static_cast<long long>(cv.width()) * cv.height() <= kBlendPixels;
    r.gap = r.use_next && (blend || r.k >= inside_outputs(*in, t, r.n));
    r.behind = r.use_prev && blend;
    if (r.gap && f + 2 <= r.b) r.next2 = std::make_unique<Image>(in->source, static_cast<double>(f + 2));
    r.use_next2 = usable(r.next2);
    if (r.behind && f - 2 >= r.a) r.prev2 = std::make_unique<Image>(in->source, static_cast<double>(f - 2));
    r.use_prev2 = usable(r.prev2);
    if (in->guide && clip_connected(in->guide)) {
        r.matte = std::make_unique<Image>(in->guide, static_cast<double>(f));
        if (r.matte->supported()) {
            const int d = std::clamp(param_int(in->guide_direction, t, eGuideRight), 0, eGuideCount - 1);
            r.direction = kGuideDirectionOptions[d].value;
            if (r.gap) r.next_matte = std::make_unique<Image>(in->guide, static_cast<double>(f + 1));
            if (r.behind) r.prev_matte = std::make_unique<Image>(in->guide, static_cast<double>(f - 1));
        }
    }
    if (!r.direction.empty()) {
        const auto [mx, my] = param_dbl2(in->guide_motion, t);
        r.has_matte_motion = mx != 0.0 || my != 0.0;
        r.matte_motion[0] = mx;
        r.matte_motion[1] = my;
    }
    r.use_next_matte = r.next_matte && r.next_matte->supported();
    r.use_prev_matte = r.prev_matte && r.prev_matte->supported();
    if (in->vectors && clip_connected(in->vectors)) {
        // a pass needs two channels: R and G of an RGB or RGBA image
        auto pass = [&](long at) {
            auto im = std::make_unique<Image>(in->vectors, static_cast<double>(at));
            return im->supported() && im->view().components >= 3 ? std::move(im) : nullptr;
        };
        r.vectors = pass(f);
        if (!r.vectors) {
            report_error(in, "the Vectors input at frame " + std::to_string(f) +
                                 " is not an RGB or RGBA image (R, G: the motion's x, y)");
            return kOfxStatFailed;
        }
        if (r.gap) r.next_vectors = pass(f + 1);
        if (r.behind) r.prev_vectors = pass(f - 1);
    }
    r.use_vectors = r.vectors != nullptr;
    r.use_next_vectors = r.next_vectors != nullptr;
    r.use_prev_vectors = r.prev_vectors != nullptr;
    return kOfxStatOK;
}

// The planes in the order the request names them, the output plane last.
ShmLayout layout(const RenderInputs& r) {
    const ImageView& cv = r.cur->view();
    const size_t plane = cv.width() * cv.height() * 3 * sizeof(float),
                 mplane = cv.width() * cv.height() * sizeof(float);
    const size_t vplane = 2 * mplane;
    ShmLayout l;
    size_t off = SharedBuffer::kHeaderBytes;
    auto take = [&off](bool used, size_t bytes) {
        if (!used) return size_t{0};
        const size_t at = off;
        off += bytes;
        return at;
    };
    l.cur = take(true, plane);
    l.prev = take(r.use_prev, plane);
    l.next = take(r.use_next, plane);
    l.next2 = take(r.use_next2, plane);
    l.matte = take(!r.direction.empty(), mplane);
    l.next_matte = take(r.use_next_matte, mplane);
    l.prev2 = take(r.use_prev2, plane);
    l.prev_matte = take(r.use_prev_matte, mplane);
    l.vectors = take(r.use_vectors, vplane);
    l.next_vectors = take(r.use_next_vectors, vplane);
    l.prev_vectors = take(r.use_prev_vectors, vplane);
    l.out = take(true, plane);
    l.bytes = off;
    return l;
}

// The source planes (scene-linear RGB floats, mattes as one float) into shared memory; the host's
// source images are released here, the output image is kept for store().
void load_planes(RenderInputs& r, const ShmLayout& l, SharedBuffer& shm) {
    const ImageView& cv = r.cur->view();
    load_rgb_any(cv, shm.floats(l.cur));
    if (r.use_prev) load_rgb_any(r.prev->view(), shm.floats(l.prev));
    if (r.use_next) load_rgb_any(r.next->view(), shm.floats(l.next));
    if (r.use_next2) load_rgb_any(r.next2->view(), shm.floats(l.next2));
    if (!r.direction.empty()) load_matte_any(r.matte->view(), cv, shm.floats(l.matte));
    if (r.use_next_matte) load_matte_any(r.next_matte->view(), cv, shm.floats(l.next_matte));
    if (r.use_prev2) load_rgb_any(r.prev2->view(), shm.floats(l.prev2));
    if (r.use_prev_matte) load_matte_any(r.prev_matte->view(), cv, shm.floats(l.prev_matte));
    if (r.use_vectors) load_uv_any(r.vectors->view(), cv, shm.floats(l.vectors));
    if (r.use_next_vectors) load_uv_any(r.next_vectors->view(), cv, shm.floats(l.next_vectors));
    if (r.use_prev_vectors) load_uv_any(r.prev_vectors->view(), cv, shm.floats(l.prev_vectors));
    r.vectors.reset();
    r.next_vectors.reset();
    r.prev_vectors.reset();
    r.prev.reset();
    r.prev2.reset();
    r.prev_matte.reset();
    r.next.reset();
    r.next2.reset();
    r.matte.reset();
    r.next_matte.reset();
}

// The worker's "render" request (cli/worker.py): where the planes are, and the node's parameters at time t.
std::string render_request(const Instance& in, const RenderInputs& r, const ShmLayout& l, const std::string& shm_name) {
    const double t = r.t;
    const ImageView& cv = r.cur->view();
    const int guidance = std::clamp(param_int(in.guidance, t, eGuidanceNeighbours), 0, eGuidanceCount - 1);
    const int quality = std::clamp(param_int(in.quality, t, eQualityFull), 0, eQualityCount - 1);
    const char* colorspace = colorspace_for(param_int(in.colorspace, t, eColorspaceAuto), cv.depth);
    const double follow_raw = param_dbl(in.follow, t, kFollowDefault);
    const double follow = std::isfinite(follow_raw) ? std::clamp(follow_raw, 0.0, kFollowMax) : kFollowDefault;
    JsonWriter w;
    auto plane = [&w](const char* key, size_t offset) {  // a plane's offset, null when it is not sent
        w.key(key);
        if (offset)
            w.integer(static_cast<long long>(offset));
        else
            w.null();
    };
    w.begin_object().key("op").str("render").key("shm").str(shm_name);
    w.key("width")
        .integer(static_cast<long long>(cv.width()))
        .key("height")
        .integer(static_cast<long long>(cv.height()));
    w.key("frame").integer(r.f).key("k").integer(r.k);
    w.key("clip").begin_array().integer(r.a).integer(r.b).end_array();  // for the worker's override range warning
    plane("cur", l.cur);
    plane("prev", l.prev);
    plane("next", l.next);
    plane("matte", l.matte);
    plane("vectors", l.vectors);
    if (r.gap) {  // an output settled with the next frame names the frame two on (null past the clip's end)
        plane("next2", l.next2);
        plane("next_matte", l.next_matte);
        plane("next_vectors", l.next_vectors);
    }
    if (r.behind) {  // at 360 degrees also the frame two back (null before the clip's start)
        plane("prev2", l.prev2);
        plane("prev_matte", l.prev_matte);
        plane("prev_vectors", l.prev_vectors);
    }
    w.key("output").integer(static_cast<long long>(l.out)).key("matte_direction");
    if (r.direction.empty())
        w.null();
    else
        w.str(r.direction);
    w.key("matte_motion");
    if (r.has_matte_motion)
        w.begin_array().number(r.matte_motion[0]).number(r.matte_motion[1]).end_array();
    else
        w.null();
    w.key("params").begin_object();
    w.key("factor").integer(r.n);
    w.key("shutter").number(shutter_at(in, t));
    w.key("timing").str(kTimingOptions[timing_at(in, t)].value);
    w.key("follow").number(follow);
    w.key("guidance").str(kGuidanceOptions[guidance].value);
    w.key("reverse").boolean(param_int(in.reverse, t, 0) != 0);
    w.key("overrides").str(param_str(in.overrides, t));
    w.key("tile").integer(std::clamp(param_int(in.tile, t, kTileDefault), kTileMin, kTileMax));
    w.key("quality").str(kQualityOptions[quality].value);
    w.key("colorspace").str(colorspace);
    w.key("render_scale").begin_array().number(r.scale_x).number(r.scale_y).end_array();
    w.key("threshold").number(std::max(0.0, param_dbl(in.threshold, t, 0.5)) * r.scale_x);
    const int vy = std::clamp(param_int(in.vectors_y, t, eVectorsYUp), 0, eVectorsYCount - 1);
    const int vp = std::clamp(param_int(in.vectors_points, t, eVectorsForward), 0, eVectorsPointsCount - 1);
    w.key("motion_pass_y").str(kVectorsYOptions[vy].value);
    const int vu = std::clamp(param_int(in.vectors_units, t, eVectorsPx), 0, eVectorsUnitsCount - 1);
    w.key("motion_pass_points").str(kVectorsPointsOptions[vp].value);
    w.key("motion_pass_units").str(kVectorsUnitsOptions[vu].value);
    w.end_object().end_object();
    return w.text();
}

enum class WorkerOutcome { Done, Discarded, Failed };  // Discarded: aborted or cancelled, the host drops the render

// Send the request and wait for the worker's reply (reported to the host when it failed).
WorkerOutcome ask_worker(Instance* in, const RenderInputs& r, const std::string& req, SharedBuffer& shm,
                         Progress& progress, std::string& warning) {
    auto aborted = [in]() { return gEffect->abort(in->handle) != 0; };
    // Polled while the worker decomposes: the progress bar follows its tiles, and a cancel there stops it like abort.
    auto stop = [&]() { return !progress.follow(shm) || aborted(); };
    CallResult res = WorkerClient::instance().call(req, &shm, stop);
    const bool verbose = std::getenv("UNSHUTTER_OFX_VERBOSE") != nullptr;
    const std::string when = fmt_double(r.t), frame = "frame " + std::to_string(r.f) + ": ";
    if (res.status == CallStatus::Aborted) {
        if (verbose) std::fprintf(stderr, "Unshutter: output %s aborted: %s\n", when.c_str(), res.error.c_str());
        return WorkerOutcome::Discarded;
    }
    if (res.status != CallStatus::Ok) {
        report_error(in, frame + res.error);
        return WorkerOutcome::Failed;
    }
    JsonReply reply;
    if (!reply.parse(res.reply)) {
        report_error(in, frame + "unreadable reply from the Unshutter worker");
        return WorkerOutcome::Failed;
    }
    if (!reply.boolean("ok")) {
        if (reply.str("kind") == "aborted") {  // the worker saw the abort flag between tiles
            if (verbose)
                std::fprintf(stderr, "Unshutter: output %s aborted by the worker: %s\n", when.c_str(),
                             res.reply.c_str());
            return WorkerOutcome::Discarded;
        }
        report_error(in, frame + reply.str("error", "the worker failed"));
        return WorkerOutcome::Failed;
    }
    if (verbose)
        std::fprintf(stderr, "Unshutter: output %s = frame %ld sub-frame %d: %s\n", when.c_str(), r.f, r.k,
                     res.reply.c_str());
    warning = reply.str("warning");
    return WorkerOutcome::Done;
}

OfxStatus render(Instance* in, OfxPropertySetHandle in_args) {
    RenderInputs r;
    if (const OfxStatus st = gather(in, in_args, r); st != kOfxStatOK) return st;
    if (gEffect->abort(in->handle) != 0) return kOfxStatOK;

    Progress progress(in->handle, "Unshutter: deblur to slow motion");
    const ShmLayout l = layout(r);
    SharedBuffer shm;
    std::string error;
    if (!shm.create(l.bytes, error)) {
        report_error(in, error);
        return kOfxStatFailed;
    }
    load_planes(r, l, shm);
    if (!progress.update(kProgressSent)) return kOfxStatOK;  // cancelled: the host discards the render

    std::string warning;
    switch (ask_worker(in, r, render_request(*in, r, l, shm.name()), shm, progress, warning)) {
        case WorkerOutcome::Discarded:
            return kOfxStatOK;
        case WorkerOutcome::Failed:
            return kOfxStatFailed;
        case WorkerOutcome::Done:
            break;
    }
    progress.update(kProgressDecomposed);
    store_any(r.out->view(), r.window, r.cur->view(), shm.floats(l.out));
    progress.update(1.0);
    if (warning.empty())
        clear_error(in);
    else
        report_warning(in, warning);
    return kOfxStatOK;
}

// ------------------------------------------------------------------ dispatch
OfxStatus on_load() {
    gProp = fetch<OfxPropertySuiteV1>(ofx::PropertySuite, 1);
    gEffect = fetch<OfxImageEffectSuiteV1>(ofx::ImageEffectSuite, 1);
    gParam = fetch<OfxParameterSuiteV1>(ofx::ParameterSuite, 1);
    gMsgV2 = fetch<OfxMessageSuiteV2>(ofx::MessageSuite, 2);
    gMsgV1 = gMsgV2 ? nullptr : fetch<OfxMessageSuiteV1>(ofx::MessageSuite, 1);
    gProgV2 = fetch<OfxProgressSuiteV2>(ofx::ProgressSuite, 2);
    gProgV1 = gProgV2 ? nullptr : fetch<OfxProgressSuiteV1>(ofx::ProgressSuite, 1);
    SharedBuffer::sweep_abandoned();  // left in /dev/shm by hosts that crashed mid-render
    if (!gProp || !gEffect || !gParam) return kOfxStatErrMissingHostFeature;
    return kOfxStatOK;
}

OfxStatus dispatch(const char* action, const void* handle, OfxPropertySetHandle in_args,
                   OfxPropertySetHandle out_args) {
    auto effect = static_cast<OfxImageEffectHandle>(const_cast<void*>(handle));
    const std::string a = action ? action : "";
    if (a == ofx::ActionLoad) return on_load();
    if (!gProp || !gEffect || !gParam) return kOfxStatErrMissingHostFeature;
    if (a == ofx::ActionUnload) {
        WorkerClient::instance().shutdown();
        return kOfxStatOK;
    }
    if (a == ofx::ActionPurgeCaches) {
        WorkerClient::instance().purge();
        return kOfxStatOK;
    }
    if (a == ofx::ActionDescribe) return describe(effect);
    if (a == ofx::ImageEffectActionDescribeInContext) return describe_in_context(effect, in_args);
    if (a == ofx::ActionCreateInstance) return create_instance(effect);
    if (a == ofx::ActionDestroyInstance) return destroy_instance(effect);
    Instance* in = instance_of(effect);
    if (!in) return kOfxStatReplyDefault;
    if (a == ofx::ImageEffectActionRender) return render(in, in_args);
    if (a == ofx::ImageEffectActionGetTimeDomain) return get_time_domain(in, out_args);
    if (a == ofx::ImageEffectActionGetFramesNeeded) return get_frames_needed(in, in_args, out_args);
    if (a == ofx::ImageEffectActionGetRegionOfDefinition) return get_region_of_definition(in, in_args, out_args);
    if (a == ofx::ImageEffectActionGetRegionsOfInterest) return get_regions_of_interest(in, in_args, out_args);
    if (a == ofx::ImageEffectActionGetClipPreferences) return get_clip_preferences(in, out_args);
    return kOfxStatReplyDefault;
}

OfxStatus main_entry(const char* action, const void* handle, OfxPropertySetHandle in_args,
                     OfxPropertySetHandle out_args) {
    try {
        return dispatch(action, handle, in_args, out_args);
    } catch (const std::bad_alloc&) {
        return kOfxStatErrMemory;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "Unshutter: %s failed: %s\n", action ? action : "?", e.what());
        return kOfxStatFailed;
    } catch (...) {
        return kOfxStatFailed;
    }
}

OfxPlugin gPlugin = {ofx::ImageEffectPluginApi,
                     ofx::ImageEffectPluginApiVersion,
                     kPluginIdentifier,
                     kPluginVersionMajor,
                     kPluginVersionMinor,
                     set_host,
                     main_entry};

}  // namespace

UNSHUTTER_EXPORT int OfxGetNumberOfPlugins(void) {
    return 1;
}

UNSHUTTER_EXPORT OfxPlugin* OfxGetPlugin(int nth) {
    return nth == 0 ? &gPlugin : nullptr;
}

UNSHUTTER_EXPORT OfxStatus OfxSetHost(const OfxHost* host) {
    gHost = const_cast<OfxHost*>(host);
    return kOfxStatOK;
}
