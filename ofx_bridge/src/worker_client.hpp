// The plugin's side of the `unshutter worker` protocol (see
// plugin/unshutter/cli/worker.py): find, start, reuse and restart the worker,
// send one request at a time, pixels in POSIX shared memory.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace unshutter {

// A shared-memory segment for one request; unlinked and unmapped on destruction.
// Named unshutter-ofx-PID-…; the owner holds an flock on it while it lives, so
// the segments of a host that crashed can be told apart and swept.
// The segment starts with kHeaderBytes of header, uint32 words (the layout is documented with the
// protocol in plugin/unshutter/cli/worker.py): the abort flag the plugin raises, then the tiles the
// worker has decomposed and the frame's tile count, which it writes after each tile.
class SharedBuffer {
public:
    static constexpr size_t kHeaderBytes = 64;                             // the rest of the header is reserved (zero)
    static constexpr size_t kAbortAt = 0, kTilesDoneAt = 4, kTilesAt = 8;  // byte offsets of the words
    SharedBuffer() = default;
    ~SharedBuffer();
    SharedBuffer(const SharedBuffer&) = delete;
    SharedBuffer& operator=(const SharedBuffer&) = delete;

    bool create(size_t bytes, std::string& error);
    // Unlink the segments of host processes that died mid-render (plugin load).
    static void sweep_abandoned();
    const std::string& name() const { return name_; }  // without the leading '/'
    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    float* floats(size_t offset) const { return reinterpret_cast<float*>(data_ + offset); }
    void set_abort() const;
    // The worker's progress on this request's frame: false until it has reported a tile.
    bool tiles(uint32_t& done, uint32_t& total) const;

private:
    std::string name_;
    int fd_ = -1;  // kept open: it holds the owner's lock
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

enum class CallStatus { Ok, Failed, Aborted };

struct CallResult {
    CallStatus status = CallStatus::Failed;
    std::string reply;  // the worker's JSON reply when it answered
    std::string error;  // one line for the host's message when not Ok
};

// One worker process shared by every instance of the plugin in this host
// process. Thread-safe: requests are serialised; a host thread waiting its
// turn still notices the host's abort.
class WorkerClient {
public:
    static WorkerClient& instance();

    // Send `request` (a JSON object) and wait for the reply. `abort` is polled
    // about every 25 ms while waiting (the plugin also moves the host's progress
    // bar from it); when it turns true the abort flag in `shm` is raised so
    // the worker stops between tiles. A dead worker is restarted and the
    // request retried once; a timeout kills the worker (the next call starts
    // a new one).
    CallResult call(const std::string& request, const SharedBuffer* shm, const std::function<bool()>& abort);

    // Drop the worker's decomposition cache if it is running and idle (host purge-caches).
    void purge();

    // Ask the worker to quit (plugin unload).
    void shutdown();

    pid_t pid() const { return pid_; }

    // Where the worker executable was looked for, for messages and docs.
    static std::string find_executable(std::string& tried);

private:
    WorkerClient() = default;
    bool alive_locked();
    bool start_locked(std::string& error);
    void kill_locked(const char* why);
    std::string exit_description_locked();
    enum class Io { Ok, Dead, Timeout, Aborted };
    Io send_locked(const std::string& msg);
    Io recv_locked(std::string& msg, double timeout_s, const std::function<bool()>& abort, const SharedBuffer* shm);

    std::timed_mutex mutex_;
    pid_t pid_ = -1;
    int fd_ = -1;
    int last_exit_status_ = -1;
};

double env_seconds(const char* name, double dflt);

}  // namespace unshutter
