// ofx_harness: a small OpenFX image-effect host for Unshutter's tests.
//
// It drives a plugin binary the way Natron, Nuke or Resolve do -- load,
// describe, describe in a context, create an instance, set parameters, ask
// for clip preferences, the time domain, frames needed and regions, render
// -- from commands on stdin, one per line. Every command ends with a line
// "done STATUS" (the OfxStatus of the action, or -1 for a harness error);
// lines before it are key/value facts. Pixels: source frames are raw
// float32 RGBA files, top-down, one per frame (`source PATTERN A B W H`,
// PATTERN with a printf %d); rendered frames are written the same way.
// Images handed to the plugin are laid out as OFX says: bottom-up rows,
// at the chosen depth (`depth float|half|short|byte|none`, none: an unknown depth) and components
// (`components RGBA|RGB`).
//
// Commands: load BINARY | describe | describe_in_context CONTEXT |
// create CONTEXT | set PARAM VALUE | get PARAM | source ... | guide ... | vectors ... |
// depth D | components C | retime_speed S | clip_prefs | time_domain |
// frames_needed T | rod T | roi T | render T OUT [SCALE] |
// render_parallel OUTPATTERN T... | abort_after SECONDS | abort_at_progress P (abort() answers true once
// the render's progress bar has reached P) | cancel_at_progress P (progressUpdate answers
// kOfxStatReplyNo, the user's cancel button, from P on; for both a negative P means never) |
// suites message=V progress=V (before load) |
// hold_fds LOCKFILE (descriptors a host keeps without close-on-exec: a locked file, a listening
// TCP socket and a pipe; says "held FD" for each) | stats (also the last render's progress values and
// how many updates were answered with a cancel) | purge | destroy | unload | quit
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../src/pixels.hpp"
#include "unshutter_ofx/ofx_abi.h"

namespace {

using unshutter::float_to_half;
using unshutter::half_to_float;

std::mutex gOut;  // stdout lines from several render threads
void say(const std::string& line) {
    std::lock_guard<std::mutex> g(gOut);
    std::cout << line << "\n";
}

// ------------------------------------------------------------------ properties
struct Prop {
    char type = 's';  // s i d p
    std::vector<std::string> s;
    std::vector<int> i;
    std::vector<double> d;
    std::vector<void*> p;
    int dim() const {
        return type == 's' ? (int)s.size() : type == 'i' ? (int)i.size() : type == 'd' ? (int)d.size() : (int)p.size();
    }
};

struct PropSet {
    std::map<std::string, Prop> props;
    std::mutex m;
    Prop& at(const std::string& name, char type) {
        Prop& pr = props[name];
        if (pr.dim() == 0) pr.type = type;
        return pr;
    }
    void str(const std::string& n, const std::string& v, int idx = 0) {
        Prop& pr = at(n, 's');
        if ((int)pr.s.size() <= idx) pr.s.resize(idx + 1);
        pr.s[idx] = v;
    }
    void integer(const std::string& n, int v, int idx = 0) {
        Prop& pr = at(n, 'i');
        if ((int)pr.i.size() <= idx) pr.i.resize(idx + 1);
        pr.i[idx] = v;
    }
    void dbl(const std::string& n, double v, int idx = 0) {
        Prop& pr = at(n, 'd');
        if ((int)pr.d.size() <= idx) pr.d.resize(idx + 1);
        pr.d[idx] = v;
    }
    const Prop* find(const std::string& n) const {
        auto it = props.find(n);
        return it == props.end() ? nullptr : &it->second;
    }
    std::string gs(const std::string& n, int idx = 0) const {
        const Prop* p = find(n);
        return p && p->type == 's' && idx < (int)p->s.size() ? p->s[idx] : "";
    }
    int gi(const std::string& n, int dflt = 0, int idx = 0) const {
        const Prop* p = find(n);
        return p && p->type == 'i' && idx < (int)p->i.size() ? p->i[idx] : dflt;
    }
    double gd(const std::string& n, double dflt = 0, int idx = 0) const {
        const Prop* p = find(n);
        return p && p->type == 'd' && idx < (int)p->d.size() ? p->d[idx] : dflt;
    }
};

PropSet* PS(OfxPropertySetHandle h) {
    return reinterpret_cast<PropSet*>(h);
}
OfxPropertySetHandle H(PropSet* p) {
    return reinterpret_cast<OfxPropertySetHandle>(p);
}

template <class T>
OfxStatus prop_set(OfxPropertySetHandle h, const char* name, int idx, T v, char type) {
    if (!h || !name || idx < 0) return kOfxStatErrBadHandle;
    PropSet* ps = PS(h);
    std::lock_guard<std::mutex> g(ps->m);
    Prop& pr = ps->props[name];
    if (pr.dim() > 0 && pr.type != type) return kOfxStatErrValue;
    pr.type = type;
    if constexpr (std::is_same_v<T, const char*>) {
        if ((int)pr.s.size() <= idx) pr.s.resize(idx + 1);
        pr.s[idx] = v ? v : "";
    } else if constexpr (std::is_same_v<T, int>) {
        if ((int)pr.i.size() <= idx) pr.i.resize(idx + 1);
        pr.i[idx] = v;
    } else if constexpr (std::is_same_v<T, double>) {
        if ((int)pr.d.size() <= idx) pr.d.resize(idx + 1);
        pr.d[idx] = v;
    } else {
        if ((int)pr.p.size() <= idx) pr.p.resize(idx + 1);
        pr.p[idx] = v;
    }
    return kOfxStatOK;
}

OfxStatus pSetPointer(OfxPropertySetHandle h, const char* n, int i, void* v) {
    return prop_set<void*>(h, n, i, v, 'p');
}
OfxStatus pSetString(OfxPropertySetHandle h, const char* n, int i, const char* v) {
    return prop_set<const char*>(h, n, i, v, 's');
}
OfxStatus pSetDouble(OfxPropertySetHandle h, const char* n, int i, double v) {
    return prop_set<double>(h, n, i, v, 'd');
}
OfxStatus pSetInt(OfxPropertySetHandle h, const char* n, int i, int v) {
    return prop_set<int>(h, n, i, v, 'i');
}
OfxStatus pSetPointerN(OfxPropertySetHandle h, const char* n, int c, void* const* v) {
    for (int i = 0; i < c; ++i)
        if (OfxStatus s = pSetPointer(h, n, i, v[i])) return s;
    return kOfxStatOK;
}
OfxStatus pSetStringN(OfxPropertySetHandle h, const char* n, int c, const char* const* v) {
    for (int i = 0; i < c; ++i)
        if (OfxStatus s = pSetString(h, n, i, v[i])) return s;
    return kOfxStatOK;
}
OfxStatus pSetDoubleN(OfxPropertySetHandle h, const char* n, int c, const double* v) {
    for (int i = 0; i < c; ++i)
        if (OfxStatus s = pSetDouble(h, n, i, v[i])) return s;
    return kOfxStatOK;
}
OfxStatus pSetIntN(OfxPropertySetHandle h, const char* n, int c, const int* v) {
    for (int i = 0; i < c; ++i)
        if (OfxStatus s = pSetInt(h, n, i, v[i])) return s;
    return kOfxStatOK;
}

template <class T>
OfxStatus prop_get(OfxPropertySetHandle h, const char* name, int idx, T* out, char type) {
    if (!h || !name || !out) return kOfxStatErrBadHandle;
    PropSet* ps = PS(h);
    std::lock_guard<std::mutex> g(ps->m);
    auto it = ps->props.find(name);
    if (it == ps->props.end()) return kOfxStatErrUnknown;
    Prop& pr = it->second;
    if (pr.type != type) return kOfxStatErrValue;
    if (idx < 0 || idx >= pr.dim()) return kOfxStatErrBadIndex;
    if constexpr (std::is_same_v<T, char*>)
        *out = const_cast<char*>(pr.s[idx].c_str());
    else if constexpr (std::is_same_v<T, int>)
        *out = pr.i[idx];
    else if constexpr (std::is_same_v<T, double>)
        *out = pr.d[idx];
    else
        *out = pr.p[idx];
    return kOfxStatOK;
}
OfxStatus pGetPointer(OfxPropertySetHandle h, const char* n, int i, void** v) {
    return prop_get<void*>(h, n, i, v, 'p');
}
OfxStatus pGetString(OfxPropertySetHandle h, const char* n, int i, char** v) {
    return prop_get<char*>(h, n, i, v, 's');
}
OfxStatus pGetDouble(OfxPropertySetHandle h, const char* n, int i, double* v) {
    return prop_get<double>(h, n, i, v, 'd');
}
OfxStatus pGetInt(OfxPropertySetHandle h, const char* n, int i, int* v) {
    return prop_get<int>(h, n, i, v, 'i');
}
OfxStatus pGetPointerN(OfxPropertySetHandle h, const char* n, int c, void** v) {
    for (int i = 0; i < c; ++i)
        if (OfxStatus s = pGetPointer(h, n, i, &v[i])) return s;
    return kOfxStatOK;
}
OfxStatus pGetStringN(OfxPropertySetHandle h, const char* n, int c, char** v) {
    for (int i = 0; i < c; ++i)
        if (OfxStatus s = pGetString(h, n, i, &v[i])) return s;
    return kOfxStatOK;
}
OfxStatus pGetDoubleN(OfxPropertySetHandle h, const char* n, int c, double* v) {
    for (int i = 0; i < c; ++i)
        if (OfxStatus s = pGetDouble(h, n, i, &v[i])) return s;
    return kOfxStatOK;
}
OfxStatus pGetIntN(OfxPropertySetHandle h, const char* n, int c, int* v) {
    for (int i = 0; i < c; ++i)
        if (OfxStatus s = pGetInt(h, n, i, &v[i])) return s;
    return kOfxStatOK;
}
OfxStatus pReset(OfxPropertySetHandle, const char*) {
    return kOfxStatOK;
}
OfxStatus pGetDimension(OfxPropertySetHandle h, const char* n, int* c) {
    PropSet* ps = PS(h);
    std::lock_guard<std::mutex> g(ps->m);
    auto it = ps->props.find(n);
    if (it == ps->props.end()) return kOfxStatErrUnknown;
    *c = it->second.dim();
    return kOfxStatOK;
}

OfxPropertySuiteV1 gPropSuite = {pSetPointer,  pSetString,  pSetDouble,  pSetInt,    pSetPointerN, pSetStringN,
                                 pSetDoubleN,  pSetIntN,    pGetPointer, pGetString, pGetDouble,   pGetInt,
                                 pGetPointerN, pGetStringN, pGetDoubleN, pGetIntN,   pReset,       pGetDimension};

// ------------------------------------------------------------------ clips, params, effects
struct Frames {  // a clip's pixels: raw float RGBA top-down, one file per frame
    std::string pattern;
    long first = 0, last = -1;
    int w = 0, h = 0;
    std::map<long, std::vector<float>> cache;
    std::mutex m;
    bool load(long f, std::vector<float>& out) {
        std::lock_guard<std::mutex> g(m);
        auto it = cache.find(f);
        if (it == cache.end()) {
            char path[4096];
            std::snprintf(path, sizeof path, pattern.c_str(), (int)f);
            std::ifstream in(path, std::ios::binary);
            if (!in) return false;
            std::vector<float> px((size_t)w * h * 4);
            in.read(reinterpret_cast<char*>(px.data()), px.size() * sizeof(float));
            if (!in) return false;
            it = cache.emplace(f, std::move(px)).first;
        }
        out = it->second;
        return true;
    }
};

struct Effect;
struct Clip {
    PropSet props;
    std::string name;
    Effect* owner = nullptr;
    Frames* frames = nullptr;  // null for the output
};

struct Param {
    PropSet props;
    std::string type, name;
    std::vector<double> v;  // numeric dimensions
    std::string s;          // string params
};

struct ParamSet {
    PropSet props;
    std::vector<std::unique_ptr<Param>> list;
    Param* find(const std::string& n) {
        for (auto& p : list)
            if (p->name == n) return p.get();
        return nullptr;
    }
};

struct Effect {
    PropSet props;
    ParamSet params;
    std::vector<std::unique_ptr<Clip>> clips;
    std::string context;
    Clip* clip(const std::string& n) {
        for (auto& c : clips)
            if (c->name == n) return c.get();
        return nullptr;
    }
};

Effect* EF(OfxImageEffectHandle h) {
    return reinterpret_cast<Effect*>(h);
}

// harness state
Frames gSource, gGuide, gVectors;
std::string gDepth = ofx::BitDepthFloat, gComponents = ofx::ImageComponentRGBA;
double gRetimeSpeed = 0.25;
double gAbortAfter = -1;                               // seconds into a render; <0 = never
double gAbortAtProgress = -1, gCancelAtProgress = -1;  // progress values; <0 = never
int gMessageVersion = 2, gProgressVersion = 2;         // the newest suite versions the host offers (0: none)
thread_local std::chrono::steady_clock::time_point tRenderStart;
thread_local double tRenderTime = 0, tRenderScale = 1;
thread_local std::vector<uint8_t>* tOutput = nullptr;
thread_local int tOutBounds[4];
thread_local std::vector<std::pair<double, double>> tNeeded;  // frames the plugin said it needs
thread_local std::vector<double> tProgress;                   // this thread's render's progressUpdate values
std::mutex gProgressMutex;
std::vector<double> gLastProgress;  // the progress values of the render that finished last
std::atomic<int> gViolations{0}, gProgressCalls{0}, gProgressCancels{0};
std::atomic<long> gImagesOut{0};

int bytes_per_sample(const std::string& d) {
    return d == ofx::BitDepthByte ? 1 : d == ofx::BitDepthFloat ? 4 : 2;
}
int n_components(const std::string& c) {
    return c == ofx::ImageComponentRGBA ? 4 : c == ofx::ImageComponentRGB ? 3 : 1;
}

struct ImageData {
    PropSet props;
    std::vector<uint8_t> own;
};
std::mutex gImagesMutex;
std::map<PropSet*, std::unique_ptr<ImageData>> gImages;

// float RGBA (top-down, w x h) -> host layout (bottom-up, depth, components)
void to_host(const std::vector<float>& src, int w, int h, double scale, std::vector<uint8_t>& out, int& ow, int& oh) {
    ow = (int)std::ceil(w * scale - 1e-9);
    oh = (int)std::ceil(h * scale - 1e-9);
    const int nc = n_components(gComponents), bps = bytes_per_sample(gDepth);
    out.assign((size_t)ow * oh * nc * bps, 0);
    for (int j = 0; j < oh; ++j) {       // memory row j = image row y = j (bottom-up)
        const int top_row = oh - 1 - j;  // its row counted from the top
        const int sy = std::min(h - 1, (int)((top_row + 0.5) / scale));
        for (int x = 0; x < ow; ++x) {
            const int sx = std::min(w - 1, (int)((x + 0.5) / scale));
            const float* px = &src[((size_t)sy * w + sx) * 4];
            for (int c = 0; c < nc; ++c) {
                const float v = nc == 1 ? px[3] : px[c];
                uint8_t* dst = &out[(((size_t)j * ow + x) * nc + c) * bps];
                if (gDepth == ofx::BitDepthFloat)
                    std::memcpy(dst, &v, 4);
                else if (gDepth == ofx::BitDepthHalf) {
                    uint16_t hv = float_to_half(v);
                    std::memcpy(dst, &hv, 2);
                } else if (gDepth == ofx::BitDepthShort) {
                    uint16_t sv = (uint16_t)(std::fmin(std::fmax(v, 0.f), 1.f) * 65535.f + 0.5f);
                    std::memcpy(dst, &sv, 2);
                } else
                    *dst = (uint8_t)(std::fmin(std::fmax(v, 0.f), 1.f) * 255.f + 0.5f);
            }
        }
    }
}

// host layout -> float RGBA top-down file
bool write_output(const std::string& path, const std::vector<uint8_t>& buf, int w, int h) {
    const int nc = n_components(gComponents), bps = bytes_per_sample(gDepth);
    std::vector<float> out((size_t)w * h * 4, 0.f);
    for (int j = 0; j < h; ++j) {
        const int r = h - 1 - j;
        for (int x = 0; x < w; ++x) {
            for (int c = 0; c < nc; ++c) {
                const uint8_t* s = &buf[(((size_t)j * w + x) * nc + c) * bps];
                float v;
                if (gDepth == ofx::BitDepthFloat)
                    std::memcpy(&v, s, 4);
                else if (gDepth == ofx::BitDepthHalf) {
                    uint16_t hv;
                    std::memcpy(&hv, s, 2);
                    v = half_to_float(hv);
                } else if (gDepth == ofx::BitDepthShort) {
                    uint16_t sv;
                    std::memcpy(&sv, s, 2);
                    v = sv / 65535.f;
                } else
                    v = *s / 255.f;
                out[((size_t)r * w + x) * 4 + c] = v;
            }
            if (nc == 3) out[((size_t)r * w + x) * 4 + 3] = 1.f;
        }
    }
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(out.data()), out.size() * sizeof(float));
    return (bool)f;
}

ImageData* new_image(const std::string& depth, const std::string& comps, int w, int h, double t, uint8_t* data) {
    auto im = std::make_unique<ImageData>();
    PropSet& p = im->props;
    p.str(ofx::PropType, ofx::TypeImage);
    p.str(ofx::ImageEffectPropPixelDepth, depth);
    p.str(ofx::ImageEffectPropComponents, comps);
    p.str(ofx::ImageEffectPropPreMultiplication, ofx::ImagePreMultiplied);
    p.dbl(ofx::ImageEffectPropRenderScale, tRenderScale, 0);
    p.dbl(ofx::ImageEffectPropRenderScale, tRenderScale, 1);
    p.dbl(ofx::ImagePropPixelAspectRatio, 1.0);
    const int b[4] = {0, 0, w, h};
    for (int i = 0; i < 4; ++i) {
        p.integer(ofx::ImagePropBounds, b[i], i);
        p.integer(ofx::ImagePropRegionOfDefinition, b[i], i);
    }
    p.integer(ofx::ImagePropRowBytes, w * n_components(comps) * bytes_per_sample(depth));
    p.str(ofx::ImagePropField, ofx::ImageFieldNone);
    p.str(ofx::ImagePropUniqueIdentifier, "img" + std::to_string(t));
    p.props[ofx::ImagePropData].type = 'p';
    p.props[ofx::ImagePropData].p = {data};
    ImageData* raw = im.get();
    std::lock_guard<std::mutex> g(gImagesMutex);
    gImages[&raw->props] = std::move(im);
    ++gImagesOut;
    return raw;
}

// ------------------------------------------------------------------ image effect suite
OfxStatus eGetPropertySet(OfxImageEffectHandle h, OfxPropertySetHandle* p) {
    if (!h) return kOfxStatErrBadHandle;
    *p = H(&EF(h)->props);
    return kOfxStatOK;
}
OfxStatus eGetParamSet(OfxImageEffectHandle h, OfxParamSetHandle* p) {
    if (!h) return kOfxStatErrBadHandle;
    *p = reinterpret_cast<OfxParamSetHandle>(&EF(h)->params);
    return kOfxStatOK;
}
OfxStatus eClipDefine(OfxImageEffectHandle h, const char* name, OfxPropertySetHandle* p) {
    Effect* e = EF(h);
    if (e->clip(name)) return kOfxStatErrExists;
    auto c = std::make_unique<Clip>();
    c->name = name;
    c->owner = e;
    c->props.str(ofx::PropType, ofx::TypeClip);
    c->props.str(ofx::PropName, name);
    c->props.integer(ofx::ImageClipPropOptional, 0);
    c->props.integer(ofx::ImageClipPropIsMask, 0);
    *p = H(&c->props);
    e->clips.push_back(std::move(c));
    return kOfxStatOK;
}
OfxStatus eClipGetHandle(OfxImageEffectHandle h, const char* name, OfxImageClipHandle* clip, OfxPropertySetHandle* p) {
    Clip* c = EF(h)->clip(name);
    if (!c) return kOfxStatErrUnknown;
    *clip = reinterpret_cast<OfxImageClipHandle>(c);
    if (p) *p = H(&c->props);
    return kOfxStatOK;
}
OfxStatus eClipGetPropertySet(OfxImageClipHandle clip, OfxPropertySetHandle* p) {
    if (!clip) return kOfxStatErrBadHandle;
    *p = H(&reinterpret_cast<Clip*>(clip)->props);
    return kOfxStatOK;
}
OfxStatus eClipGetImage(OfxImageClipHandle clip, OfxTime t, const OfxRectD*, OfxPropertySetHandle* img) {
    Clip* c = reinterpret_cast<Clip*>(clip);
    if (!c) return kOfxStatErrBadHandle;
    if (!c->frames) {  // the output clip: the buffer of the render in progress
        if (!tOutput || std::fabs(t - tRenderTime) > 1e-9) return kOfxStatFailed;
        ImageData* im = new_image(gDepth, gComponents, tOutBounds[2], tOutBounds[3], t, tOutput->data());
        *img = H(&im->props);
        return kOfxStatOK;
    }
    if (c->props.gi(ofx::ImageClipPropConnected) == 0) return kOfxStatFailed;
    const long f = std::lround(t);
    if (std::fabs(t - f) > 1e-9 || f < c->frames->first || f > c->frames->last) return kOfxStatFailed;
    if (tOutput && c->name == ofx::ImageEffectSimpleSourceClipName) {
        bool ok = false;
        for (auto& r : tNeeded) ok = ok || (t >= r.first - 1e-9 && t <= r.second + 1e-9);
        if (!ok) {
            ++gViolations;
            say("violation source frame " + std::to_string(f) + " fetched but not in frames needed");
        }
    }
    std::vector<float> px;
    if (!c->frames->load(f, px)) return kOfxStatFailed;
    auto* holder = new std::vector<uint8_t>();
    int w, h;
    to_host(px, c->frames->w, c->frames->h, tRenderScale, *holder, w, h);
    ImageData* im = new_image(gDepth, gComponents, w, h, t, holder->data());
    im->own.swap(*holder);
    delete holder;
    im->props.props[ofx::ImagePropData].p = {im->own.data()};
    *img = H(&im->props);
    return kOfxStatOK;
}
OfxStatus eClipReleaseImage(OfxPropertySetHandle img) {
    std::lock_guard<std::mutex> g(gImagesMutex);
    auto it = gImages.find(PS(img));
    if (it == gImages.end()) return kOfxStatErrBadHandle;
    gImages.erase(it);
    --gImagesOut;
    return kOfxStatOK;
}
OfxStatus eClipGetRoD(OfxImageClipHandle clip, OfxTime, OfxRectD* b) {
    Clip* c = reinterpret_cast<Clip*>(clip);
    Frames* f = c->frames ? c->frames : &gSource;
    *b = OfxRectD{0, 0, (double)f->w, (double)f->h};
    return kOfxStatOK;
}
int eAbort(OfxImageEffectHandle) {
    if (gAbortAtProgress >= 0 && !tProgress.empty() && tProgress.back() >= gAbortAtProgress) return 1;
    if (gAbortAfter < 0) return 0;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - tRenderStart).count();
    return s >= gAbortAfter ? 1 : 0;
}
OfxStatus eMemAlloc(OfxImageEffectHandle, size_t n, OfxImageMemoryHandle* h) {
    *h = reinterpret_cast<OfxImageMemoryHandle>(std::malloc(n ? n : 1));
    return *h ? kOfxStatOK : kOfxStatErrMemory;
}
OfxStatus eMemFree(OfxImageMemoryHandle h) {
    std::free(h);
    return kOfxStatOK;
}
OfxStatus eMemLock(OfxImageMemoryHandle h, void** p) {
    *p = h;
    return kOfxStatOK;
}
OfxStatus eMemUnlock(OfxImageMemoryHandle) {
    return kOfxStatOK;
}

OfxImageEffectSuiteV1 gEffectSuite = {
    eGetPropertySet, eGetParamSet,      eClipDefine, eClipGetHandle, eClipGetPropertySet,
    eClipGetImage,   eClipReleaseImage, eClipGetRoD, eAbort,         eMemAlloc,
    eMemFree,        eMemLock,          eMemUnlock};

// ------------------------------------------------------------------ parameter suite
ParamSet* PSET(OfxParamSetHandle h) {
    return reinterpret_cast<ParamSet*>(h);
}
Param* PAR(OfxParamHandle h) {
    return reinterpret_cast<Param*>(h);
}

OfxStatus parDefine(OfxParamSetHandle set, const char* type, const char* name, OfxPropertySetHandle* p) {
    ParamSet* s = PSET(set);
    if (s->find(name)) return kOfxStatErrExists;
    auto par = std::make_unique<Param>();
    par->type = type;
    par->name = name;
    par->props.str(ofx::PropType, ofx::TypeParameter);
    par->props.str(ofx::PropName, name);
    if (p) *p = H(&par->props);
    s->list.push_back(std::move(par));
    return kOfxStatOK;
}
OfxStatus parGetHandle(OfxParamSetHandle set, const char* name, OfxParamHandle* h, OfxPropertySetHandle* p) {
    Param* par = PSET(set)->find(name);
    if (!par) return kOfxStatErrUnknown;
    *h = reinterpret_cast<OfxParamHandle>(par);
    if (p) *p = H(&par->props);
    return kOfxStatOK;
}
OfxStatus parSetGetPropertySet(OfxParamSetHandle set, OfxPropertySetHandle* p) {
    *p = H(&PSET(set)->props);
    return kOfxStatOK;
}
OfxStatus parGetPropertySet(OfxParamHandle h, OfxPropertySetHandle* p) {
    *p = H(&PAR(h)->props);
    return kOfxStatOK;
}

bool is_int_type(const std::string& t) {
    return t == ofx::ParamTypeInteger || t == ofx::ParamTypeBoolean || t == ofx::ParamTypeChoice;
}
long gSourceFirst() {
    return gSource.first;
}

OfxStatus get_value(Param* par, double t, va_list ap) {
    if (!par) return kOfxStatErrBadHandle;
    if (par->type == ofx::ParamTypeString) {
        *va_arg(ap, char**) = const_cast<char*>(par->s.c_str());
    } else if (is_int_type(par->type)) {
        *va_arg(ap, int*) = (int)std::lround(par->v.empty() ? 0 : par->v[0]);
    } else if (par->type == ofx::ParamTypeDouble) {
        double v = par->v.empty() ? 0 : par->v[0];
        if (par->name == ofx::ImageEffectRetimerParamName) v = gSourceFirst() + (t - gSourceFirst()) * gRetimeSpeed;
        *va_arg(ap, double*) = v;
    } else if (par->type == ofx::ParamTypeDouble2D) {
        *va_arg(ap, double*) = par->v.size() > 0 ? par->v[0] : 0.0;
        *va_arg(ap, double*) = par->v.size() > 1 ? par->v[1] : 0.0;
    } else {
        return kOfxStatErrUnsupported;
    }
    return kOfxStatOK;
}
OfxStatus parGetValue(OfxParamHandle h, ...) {
    va_list ap;
    va_start(ap, h);
    OfxStatus s = get_value(PAR(h), tRenderTime, ap);
    va_end(ap);
    return s;
}
OfxStatus parGetValueAtTime(OfxParamHandle h, OfxTime t, ...) {
    va_list ap;
    va_start(ap, t);
    OfxStatus s = get_value(PAR(h), t, ap);
    va_end(ap);
    return s;
}
OfxStatus parGetDerivative(OfxParamHandle, OfxTime, ...) {
    return kOfxStatErrUnsupported;
}
OfxStatus parGetIntegral(OfxParamHandle, OfxTime, OfxTime, ...) {
    return kOfxStatErrUnsupported;
}
OfxStatus parSetValue(OfxParamHandle h, ...) {
    Param* par = PAR(h);
    va_list ap;
    va_start(ap, h);
    if (par->type == ofx::ParamTypeString)
        par->s = va_arg(ap, const char*);
    else if (is_int_type(par->type))
        par->v = {(double)va_arg(ap, int)};
    else if (par->type == ofx::ParamTypeDouble)
        par->v = {va_arg(ap, double)};
    else if (par->type == ofx::ParamTypeDouble2D) {
        const double x = va_arg(ap, double);
        par->v = {x, va_arg(ap, double)};
    }
    va_end(ap);
    return kOfxStatOK;
}
OfxStatus parSetValueAtTime(OfxParamHandle, OfxTime, ...) {
    return kOfxStatErrUnsupported;
}
OfxStatus parGetNumKeys(OfxParamHandle, unsigned int* n) {
    *n = 0;
    return kOfxStatOK;
}
OfxStatus parGetKeyTime(OfxParamHandle, unsigned int, OfxTime*) {
    return kOfxStatErrBadIndex;
}
OfxStatus parGetKeyIndex(OfxParamHandle, OfxTime, int, int*) {
    return kOfxStatFailed;
}
OfxStatus parDeleteKey(OfxParamHandle, OfxTime) {
    return kOfxStatErrBadIndex;
}
OfxStatus parDeleteAllKeys(OfxParamHandle) {
    return kOfxStatOK;
}
OfxStatus parCopy(OfxParamHandle, OfxParamHandle, OfxTime, const OfxRangeD*) {
    return kOfxStatErrUnsupported;
}
OfxStatus parEditBegin(OfxParamSetHandle, const char*) {
    return kOfxStatOK;
}
OfxStatus parEditEnd(OfxParamSetHandle) {
    return kOfxStatOK;
}

OfxParameterSuiteV1 gParamSuite = {
    parDefine,        parGetHandle,   parSetGetPropertySet, parGetPropertySet, parGetValue,   parGetValueAtTime,
    parGetDerivative, parGetIntegral, parSetValue,          parSetValueAtTime, parGetNumKeys, parGetKeyTime,
    parGetKeyIndex,   parDeleteKey,   parDeleteAllKeys,     parCopy,           parEditBegin,  parEditEnd};

// ------------------------------------------------------------------ message, progress, memory
std::string vformat(const char* fmt, va_list ap) {
    char buf[4096];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    return buf;
}
OfxStatus mMessage(void*, const char* type, const char* id, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    say(std::string("message ") + type + " " + (id ? id : "") + " " + vformat(fmt, ap));
    va_end(ap);
    return kOfxStatOK;
}
OfxStatus mSetPersistent(void*, const char* type, const char* id, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    say(std::string("persistent_message ") + type + " " + (id ? id : "") + " " + vformat(fmt, ap));
    va_end(ap);
    return kOfxStatOK;
}
OfxStatus mClearPersistent(void*) {
    say("persistent_message_cleared");
    return kOfxStatOK;
}
OfxMessageSuiteV2 gMessageSuite = {mMessage, mSetPersistent, mClearPersistent};

OfxStatus prStart(void*, const char*, const char*) {
    ++gProgressCalls;
    return kOfxStatOK;
}
OfxStatus prStartV1(void*, const char*) {
    ++gProgressCalls;
    return kOfxStatOK;
}
OfxStatus prUpdate(void*, double p) {
    ++gProgressCalls;
    tProgress.push_back(p);
    if (gCancelAtProgress < 0 || p < gCancelAtProgress) return kOfxStatOK;
    ++gProgressCancels;
    return kOfxStatReplyNo;  // the user pressed the progress bar's cancel button
}
OfxStatus prEnd(void*) {
    ++gProgressCalls;
    return kOfxStatOK;
}
OfxProgressSuiteV2 gProgressSuite = {prStart, prUpdate, prEnd};
OfxProgressSuiteV1 gProgressSuiteV1 = {prStartV1, prUpdate, prEnd};

OfxStatus memAlloc(void*, size_t n, void** p) {
    *p = std::malloc(n ? n : 1);
    return *p ? kOfxStatOK : kOfxStatErrMemory;
}
OfxStatus memFree(void* p) {
    std::free(p);
    return kOfxStatOK;
}
OfxMemorySuiteV1 gMemorySuite = {memAlloc, memFree};

PropSet gHostProps;
const void* fetchSuite(OfxPropertySetHandle, const char* name, int version) {
    const std::string n = name;
    if (n == ofx::PropertySuite && version == 1) return &gPropSuite;
    if (n == ofx::ImageEffectSuite && version == 1) return &gEffectSuite;
    if (n == ofx::ParameterSuite && version == 1) return &gParamSuite;
    // `suites message=V progress=V` offers versions up to V (0: none), as older or smaller hosts do
    if (n == ofx::MessageSuite && version >= 1 && version <= gMessageVersion) return &gMessageSuite;  // v2 extends v1
    if (n == ofx::ProgressSuite && version == 2 && gProgressVersion >= 2) return &gProgressSuite;
    if (n == ofx::ProgressSuite && version == 1 && gProgressVersion >= 1) return &gProgressSuiteV1;
    if (n == ofx::MemorySuite && version == 1) return &gMemorySuite;
    return nullptr;
}
OfxHost gHost = {H(&gHostProps), fetchSuite};

// ------------------------------------------------------------------ driver
void* gLib = nullptr;
OfxPlugin* gPlugin = nullptr;
std::unique_ptr<Effect> gDescriptorPtr = std::make_unique<Effect>();
#define gDescriptor (*gDescriptorPtr)
std::map<std::string, std::unique_ptr<Effect>> gContextDescriptors;
std::unique_ptr<Effect> gInstance;

OfxStatus call(const char* action, const void* handle, PropSet* in = nullptr, PropSet* out = nullptr) {
    return gPlugin->mainEntry(action, handle, in ? H(in) : nullptr, out ? H(out) : nullptr);
}

std::string context_name(const std::string& c) {
    if (c == "general") return ofx::ImageEffectContextGeneral;
    if (c == "filter") return ofx::ImageEffectContextFilter;
    if (c == "retimer") return ofx::ImageEffectContextRetimer;
    return c;
}

std::string join(const Prop* p) {
    if (!p) return "-";
    std::ostringstream o;
    for (int i = 0; i < p->dim(); ++i) {
        if (i) o << ",";
        if (p->type == 's')
            o << p->s[i];
        else if (p->type == 'i')
            o << p->i[i];
        else if (p->type == 'd')
            o << p->d[i];
        else
            o << p->p[i];
    }
    return o.str();
}

void setup_clip_instance(Clip& c) {
    const bool out = c.name == ofx::ImageEffectOutputClipName;
    Frames* fr = c.name == ofx::ImageEffectSimpleSourceClipName ? &gSource
                 : c.name == "Guide"                            ? &gGuide
                 : c.name == "Vectors"                          ? &gVectors
                                                                : nullptr;
    c.frames = out ? nullptr : fr;
    const bool connected = out || (fr && !fr->pattern.empty());
    c.props.integer(ofx::ImageClipPropConnected, connected ? 1 : 0);
    const std::string comps = (!out && c.props.gi(ofx::ImageClipPropIsMask)) ? gComponents : gComponents;
    c.props.str(ofx::ImageEffectPropComponents, connected ? comps : ofx::ImageComponentNone);
    c.props.str(ofx::ImageClipPropUnmappedComponents, connected ? comps : ofx::ImageComponentNone);
    c.props.str(ofx::ImageEffectPropPixelDepth, connected ? gDepth : ofx::BitDepthNone);
    c.props.str(ofx::ImageClipPropUnmappedPixelDepth, connected ? gDepth : ofx::BitDepthNone);
    c.props.str(ofx::ImageEffectPropPreMultiplication, ofx::ImagePreMultiplied);
    c.props.dbl(ofx::ImagePropPixelAspectRatio, 1.0);
    c.props.dbl(ofx::ImageEffectPropFrameRate, 24.0);
    c.props.integer(ofx::ImageClipPropContinuousSamples, 0);
    c.props.str(ofx::ImageClipPropFieldOrder, ofx::ImageFieldNone);
    Frames* range = fr ? fr : &gSource;
    c.props.dbl(ofx::ImageEffectPropFrameRange, (double)range->first, 0);
    c.props.dbl(ofx::ImageEffectPropFrameRange, (double)range->last, 1);
    c.props.dbl(ofx::ImageEffectPropUnmappedFrameRange, (double)range->first, 0);
    c.props.dbl(ofx::ImageEffectPropUnmappedFrameRange, (double)range->last, 1);
}

int cmd_create(const std::string& ctx_arg) {
    const std::string ctx = context_name(ctx_arg);
    auto it = gContextDescriptors.find(ctx);
    if (it == gContextDescriptors.end()) {
        say("error describe_in_context first");
        return -1;
    }
    Effect& d = *it->second;
    gInstance = std::make_unique<Effect>();
    Effect& e = *gInstance;
    e.context = ctx;
    e.props.str(ofx::PropType, ofx::TypeImageEffectInstance);
    e.props.str(ofx::ImageEffectPropContext, ctx);
    e.props.integer(ofx::PropIsInteractive, 0);
    e.props.dbl(ofx::ImageEffectPropProjectSize, gSource.w, 0);
    e.props.dbl(ofx::ImageEffectPropProjectSize, gSource.h, 1);
    e.props.dbl(ofx::ImageEffectPropProjectOffset, 0, 0);
    e.props.dbl(ofx::ImageEffectPropProjectOffset, 0, 1);
    e.props.dbl(ofx::ImageEffectPropProjectPixelAspectRatio, 1.0);
    e.props.dbl(ofx::ImageEffectPropFrameRate, 24.0);
    e.props.dbl(ofx::ImageEffectInstancePropEffectDuration, (double)(gSource.last - gSource.first + 1));
    e.props.props[ofx::PropInstanceData].type = 'p';
    e.props.props[ofx::PropInstanceData].p = {nullptr};
    for (auto& dc : d.clips) {
        auto c = std::make_unique<Clip>();
        c->name = dc->name;
        c->owner = &e;
        c->props.props = dc->props.props;
        setup_clip_instance(*c);
        e.clips.push_back(std::move(c));
    }
    for (auto& dp : d.params.list) {
        auto p = std::make_unique<Param>();
        p->type = dp->type;
        p->name = dp->name;
        p->props.props = dp->props.props;
        p->props.str(ofx::PropType, ofx::TypeParameterInstance);
        if (p->type == ofx::ParamTypeString)
            p->s = p->props.gs(ofx::ParamPropDefault);
        else if (is_int_type(p->type))
            p->v = {(double)p->props.gi(ofx::ParamPropDefault)};
        else if (p->type == ofx::ParamTypeDouble)
            p->v = {p->props.gd(ofx::ParamPropDefault)};
        else if (p->type == ofx::ParamTypeDouble2D)
            p->v = {p->props.gd(ofx::ParamPropDefault, 0, 0), p->props.gd(ofx::ParamPropDefault, 0, 1)};
        e.params.list.push_back(std::move(p));
    }
    return call(ofx::ActionCreateInstance, &e);
}

int cmd_render(double t, const std::string& path, double scale) {
    if (!gInstance) return -1;
    tRenderTime = t;
    tRenderScale = scale;
    tRenderStart = std::chrono::steady_clock::now();
    tProgress.clear();
    // frames needed for this output time, as a host asks before rendering
    PropSet fin, fout;
    fin.dbl(ofx::PropTime, t);
    OfxStatus fs = call(ofx::ImageEffectActionGetFramesNeeded, gInstance.get(), &fin, &fout);
    tNeeded.clear();
    const std::string key = std::string(ofx::ImageClipPropFrameRangePrefix) + ofx::ImageEffectSimpleSourceClipName;
    if (fs == kOfxStatOK && fout.find(key)) {
        const Prop* p = fout.find(key);
        for (int i = 0; i + 1 < p->dim(); i += 2) tNeeded.push_back({p->d[i], p->d[i + 1]});
    } else {
        tNeeded.push_back({t, t});
    }
    std::vector<uint8_t> buf;
    int ow = (int)std::ceil(gSource.w * scale - 1e-9), oh = (int)std::ceil(gSource.h * scale - 1e-9);
    buf.assign((size_t)ow * oh * n_components(gComponents) * bytes_per_sample(gDepth), 0);
    tOutput = &buf;
    tOutBounds[0] = 0;
    tOutBounds[1] = 0;
    tOutBounds[2] = ow;
    tOutBounds[3] = oh;
    PropSet in;
    in.dbl(ofx::PropTime, t);
    in.str(ofx::ImageEffectPropFieldToRender, ofx::ImageFieldNone);
    for (int i = 0; i < 4; ++i) in.integer(ofx::ImageEffectPropRenderWindow, tOutBounds[i], i);
    in.dbl(ofx::ImageEffectPropRenderScale, scale, 0);
    in.dbl(ofx::ImageEffectPropRenderScale, scale, 1);
    in.integer(ofx::ImageEffectPropSequentialRenderStatus, 0);
    OfxStatus s = call(ofx::ImageEffectActionRender, gInstance.get(), &in, nullptr);
    tOutput = nullptr;
    {
        std::lock_guard<std::mutex> g(gProgressMutex);
        gLastProgress = tProgress;
    }
    if (s == kOfxStatOK && !path.empty() && path != "-") write_output(path, buf, ow, oh);
    say("rendered " + std::to_string(t) + " " + std::to_string(s) + " " + std::to_string(ow) + "x" +
        std::to_string(oh));
    return s;
}

bool load_frames(Frames& f, std::istringstream& in) {
    f.cache.clear();
    in >> f.pattern >> f.first >> f.last >> f.w >> f.h;
    return !in.fail() && f.w > 0 && f.h > 0 && f.last >= f.first;
}

int run_command(const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd.empty() || cmd[0] == '#') return 0;
    if (cmd == "source") return load_frames(gSource, in) ? 0 : -1;
    if (cmd == "guide") return load_frames(gGuide, in) ? 0 : -1;
    if (cmd == "vectors") return load_frames(gVectors, in) ? 0 : -1;
    if (cmd == "depth") {
        std::string d;
        in >> d;
        gDepth = d == "half"    ? ofx::BitDepthHalf
                 : d == "short" ? ofx::BitDepthShort
                 : d == "byte"  ? ofx::BitDepthByte
                 : d == "none"  ? ofx::BitDepthNone
                                : ofx::BitDepthFloat;  // none: a depth no plugin renders
        return 0;
    }
    if (cmd == "components") {
        std::string c;
        in >> c;
        gComponents = c == "RGB" ? ofx::ImageComponentRGB : ofx::ImageComponentRGBA;
        return 0;
    }
    if (cmd == "retime_speed") {
        in >> gRetimeSpeed;
        return 0;
    }
    if (cmd == "abort_after") {
        in >> gAbortAfter;
        return 0;
    }
    if (cmd == "abort_at_progress") {
        in >> gAbortAtProgress;
        return in.fail() ? -1 : 0;
    }
    if (cmd == "cancel_at_progress") {
        in >> gCancelAtProgress;
        return in.fail() ? -1 : 0;
    }
    if (cmd == "suites") {  // before load: suites message=0|1|2 progress=0|1|2
        std::string kv;
        while (in >> kv) {
            const size_t eq = kv.find('=');
            if (eq == std::string::npos) return -1;
            const int v = std::stoi(kv.substr(eq + 1));
            if (kv.compare(0, eq, "message") == 0)
                gMessageVersion = v;
            else if (kv.compare(0, eq, "progress") == 0)
                gProgressVersion = v;
            else
                return -1;
        }
        return 0;
    }
    if (cmd == "hold_fds") {
        std::string path;
        in >> path;
        const int lock = open(path.c_str(), O_RDWR | O_CREAT, 0644);
        if (lock < 0 || flock(lock, LOCK_EX) != 0) {
            say("error cannot lock " + path);
            return -1;
        }
        const int sock = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (sock < 0 || bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(sock, 1) != 0) {
            say("error cannot listen");
            return -1;
        }
        int pipe_fds[2];
        if (pipe(pipe_fds) != 0) {
            say("error cannot make a pipe");
            return -1;
        }
        for (int fd : {lock, sock, pipe_fds[0], pipe_fds[1]}) say("held " + std::to_string(fd));
        return 0;
    }
    if (cmd == "load") {
        std::string path;
        in >> path;
        gLib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!gLib) {
            say(std::string("error ") + dlerror());
            return -1;
        }
        auto num = reinterpret_cast<int (*)()>(dlsym(gLib, "OfxGetNumberOfPlugins"));
        auto get = reinterpret_cast<OfxPlugin* (*)(int)>(dlsym(gLib, "OfxGetPlugin"));
        auto set_host = reinterpret_cast<OfxStatus (*)(const OfxHost*)>(dlsym(gLib, "OfxSetHost"));
        if (!num || !get) {
            say("error missing entry points");
            return -1;
        }
        gHostProps.str(ofx::PropType, ofx::TypeImageEffectHost);
        gHostProps.str(ofx::PropName, "org.unshutter.TestHarness");
        gHostProps.str(ofx::PropLabel, "Unshutter test harness");
        gHostProps.integer(ofx::ImageEffectHostPropIsBackground, 1);
        gHostProps.integer(ofx::ImageEffectPropSupportsMultiResolution, 1);
        gHostProps.integer(ofx::ImageEffectPropTemporalClipAccess, 1);
        gHostProps.integer(ofx::ImageEffectPropSupportsTiles, 1);
        const char* ctxs[] = {ofx::ImageEffectContextGeneral, ofx::ImageEffectContextFilter,
                              ofx::ImageEffectContextRetimer};
        for (int i = 0; i < 3; ++i) gHostProps.str(ofx::ImageEffectPropSupportedContexts, ctxs[i], i);
        if (set_host) set_host(&gHost);
        say("plugins " + std::to_string(num()));
        gPlugin = get(0);
        if (!gPlugin) {
            say("error no plugin 0");
            return -1;
        }
        say(std::string("identifier ") + gPlugin->pluginIdentifier);
        say("version " + std::to_string(gPlugin->pluginVersionMajor) + "." +
            std::to_string(gPlugin->pluginVersionMinor));
        say(std::string("api ") + gPlugin->pluginApi + " " + std::to_string(gPlugin->apiVersion));
        if (gPlugin->setHost) gPlugin->setHost(&gHost);
        return call(ofx::ActionLoad, nullptr);
    }
    if (!gPlugin) {
        say("error load first");
        return -1;
    }
    if (cmd == "describe") {
        gDescriptorPtr = std::make_unique<Effect>();
        gDescriptor.props.str(ofx::PropType, ofx::TypeImageEffect);
        OfxStatus s = call(ofx::ActionDescribe, &gDescriptor);
        const char* keys[] = {ofx::PropLabel,
                              ofx::ImageEffectPluginPropGrouping,
                              ofx::ImageEffectPropSupportedContexts,
                              ofx::ImageEffectPropSupportedPixelDepths,
                              ofx::ImageEffectPropTemporalClipAccess,
                              ofx::ImageEffectPropSupportsTiles,
                              ofx::ImageEffectPluginRenderThreadSafety};
        for (const char* k : keys) say(std::string("prop ") + k + " " + join(gDescriptor.props.find(k)));
        return s;
    }
    if (cmd == "describe_in_context") {
        std::string c;
        in >> c;
        auto d = std::make_unique<Effect>();
        d->props.props = gDescriptor.props.props;
        d->context = context_name(c);
        PropSet args;
        args.str(ofx::ImageEffectPropContext, d->context);
        OfxStatus s = call(ofx::ImageEffectActionDescribeInContext, d.get(), &args);
        for (auto& clip : d->clips)
            say("clip " + clip->name + " optional=" + std::to_string(clip->props.gi(ofx::ImageClipPropOptional)) +
                " mask=" + std::to_string(clip->props.gi(ofx::ImageClipPropIsMask)) +
                " components=" + join(clip->props.find(ofx::ImageEffectPropSupportedComponents)) +
                " temporal=" + std::to_string(clip->props.gi(ofx::ImageEffectPropTemporalClipAccess)));
        for (auto& p : d->params.list)
            say("param " + p->name + " type=" + p->type + " label=\"" + p->props.gs(ofx::PropLabel) + "\"" +
                " default=" + join(p->props.find(ofx::ParamPropDefault)) +
                " min=" + join(p->props.find(ofx::ParamPropMin)) + " max=" + join(p->props.find(ofx::ParamPropMax)) +
                " dmin=" + join(p->props.find(ofx::ParamPropDisplayMin)) +
                " dmax=" + join(p->props.find(ofx::ParamPropDisplayMax)) +
                " options=" + join(p->props.find(ofx::ParamPropChoiceOption)) +
                " hint=" + std::to_string(p->props.gs(ofx::ParamPropHint).size()));
        gContextDescriptors[d->context] = std::move(d);
        return s;
    }
    if (cmd == "create") {
        std::string c;
        in >> c;
        return cmd_create(c);
    }
    if (cmd == "unload") {
        OfxStatus s = call(ofx::ActionUnload, nullptr);
        return s;
    }
    if (!gInstance) {
        say("error create first");
        return -1;
    }
    if (cmd == "set" || cmd == "get") {
        std::string name, value;
        in >> name;
        std::getline(in, value);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        Param* p = gInstance->params.find(name);
        if (!p) {
            say("error no param " + name);
            return -1;
        }
        if (cmd == "set") {
            if (p->type == ofx::ParamTypeString)
                p->s = value;
            else if (p->type == ofx::ParamTypeDouble2D) {  // "x y"
                std::istringstream xy(value);
                double x = 0, y = 0;
                xy >> x >> y;
                p->v = {x, y};
            } else
                p->v = {std::stod(value)};
            PropSet ia;
            ia.str(ofx::PropType, ofx::TypeParameter);
            ia.str(ofx::PropName, name);
            ia.str(ofx::PropChangeReason, "OfxChangeUserEdited");
            ia.dbl(ofx::PropTime, 0.0);
            ia.dbl(ofx::ImageEffectPropRenderScale, 1.0, 0);
            ia.dbl(ofx::ImageEffectPropRenderScale, 1.0, 1);
            return call(ofx::ActionInstanceChanged, gInstance.get(), &ia);
        }
        say("value " + (p->type == ofx::ParamTypeString ? p->s : std::to_string(p->v.empty() ? 0 : p->v[0])));
        return 0;
    }
    if (cmd == "clip_prefs") {
        for (auto& c : gInstance->clips) setup_clip_instance(*c);
        PropSet out;
        OfxStatus s = call(ofx::ImageEffectActionGetClipPreferences, gInstance.get(), nullptr, &out);
        for (auto& kv : out.props) say("pref " + kv.first + " " + join(&kv.second));
        return s;
    }
    if (cmd == "time_domain") {
        PropSet out;
        OfxStatus s = call(ofx::ImageEffectActionGetTimeDomain, gInstance.get(), nullptr, &out);
        if (s == kOfxStatOK) {
            say("time_domain " + join(out.find(ofx::ImageEffectPropFrameRange)));
            Clip* o = gInstance->clip(ofx::ImageEffectOutputClipName);
            o->props.dbl(ofx::ImageEffectPropFrameRange, out.gd(ofx::ImageEffectPropFrameRange, 0, 0), 0);
            o->props.dbl(ofx::ImageEffectPropFrameRange, out.gd(ofx::ImageEffectPropFrameRange, 0, 1), 1);
        }
        return s;
    }
    if (cmd == "frames_needed" || cmd == "rod" || cmd == "roi") {
        double t;
        in >> t;
        PropSet ia, out;
        ia.dbl(ofx::PropTime, t);
        ia.dbl(ofx::ImageEffectPropRenderScale, 1.0, 0);
        ia.dbl(ofx::ImageEffectPropRenderScale, 1.0, 1);
        const double full[4] = {0, 0, (double)gSource.w, (double)gSource.h};
        for (int i = 0; i < 4; ++i) ia.dbl(ofx::ImageEffectPropRegionOfInterest, full[i], i);
        const char* action = cmd == "frames_needed" ? ofx::ImageEffectActionGetFramesNeeded
                             : cmd == "rod"         ? ofx::ImageEffectActionGetRegionOfDefinition
                                                    : ofx::ImageEffectActionGetRegionsOfInterest;
        OfxStatus s = call(action, gInstance.get(), &ia, &out);
        for (auto& kv : out.props) say("out " + kv.first + " " + join(&kv.second));
        return s;
    }
    if (cmd == "render") {
        double t, scale = 1.0;
        std::string path;
        in >> t >> path;
        if (!(in >> scale)) scale = 1.0;
        return cmd_render(t, path, scale);
    }
    if (cmd == "render_parallel") {
        std::string pattern;
        in >> pattern;
        std::vector<double> times;
        double t;
        while (in >> t) times.push_back(t);
        std::vector<int> status(times.size(), -1);
        std::vector<std::thread> threads;
        for (size_t i = 0; i < times.size(); ++i)
            threads.emplace_back([&, i] {
                char path[4096];
                std::snprintf(path, sizeof path, pattern.c_str(), (int)std::lround(times[i]));
                status[i] = cmd_render(times[i], path, 1.0);
            });
        for (auto& th : threads) th.join();
        int worst = 0;
        for (int s : status) worst = s != 0 ? s : worst;
        return worst;
    }
    if (cmd == "stats") {
        say("violations " + std::to_string(gViolations.load()));
        say("images_outstanding " + std::to_string(gImagesOut.load()));
        say("progress_calls " + std::to_string(gProgressCalls.load()));
        say("progress_cancels " + std::to_string(gProgressCancels.load()));
        std::string values;
        {
            std::lock_guard<std::mutex> g(gProgressMutex);
            for (double v : gLastProgress) {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%s%.9g", values.empty() ? "" : ",", v);
                values += buf;
            }
        }
        say("progress_values " + values);
        return 0;
    }
    if (cmd == "purge") return call(ofx::ActionPurgeCaches, gInstance.get());
    if (cmd == "destroy") {
        OfxStatus s = call(ofx::ActionDestroyInstance, gInstance.get());
        gInstance.reset();
        return s;
    }
    say("error unknown command " + cmd);
    return -1;
}

}  // namespace

int main() {
    std::ios::sync_with_stdio(true);
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line == "quit") break;
        int s = -1;
        try {
            s = run_command(line);
        } catch (const std::exception& e) {
            say(std::string("error ") + e.what());
        }
        say("done " + std::to_string(s));
        std::cout.flush();
    }
    if (gLib) dlclose(gLib);
    return 0;
}
