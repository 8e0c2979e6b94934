// Starting, talking to and restarting the `unshutter worker` process.
#include "worker_client.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "json_lite.hpp"

extern char** environ;

namespace unshutter {

namespace {

const char kShmPrefix[] = "unshutter-ofx-";  // shared-memory names: then the owner's pid and '-'
constexpr double kPollS = 0.025;  // how often a waiting render polls the host's abort and the worker's progress

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

bool is_executable(const std::string& p) {
    struct stat st;
    return !p.empty() && stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
}

std::string dirname_of(const std::string& p) {
    size_t i = p.find_last_of('/');
    return i == std::string::npos ? std::string(".") : p.substr(0, i);
}

// The path of this shared object (…/Contents/Linux-x86-64/Unshutter.ofx).
std::string plugin_binary_path() {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&plugin_binary_path), &info) && info.dli_fname) return info.dli_fname;
    return {};
}

std::string errno_text(int e) {
    return std::strerror(e);
}

// Close every descriptor from `lowest` up in the spawned process. Hosts keep sockets, lock files and
// pipes open without close-on-exec; a worker holding them would keep their ports and locks alive after
// the host has gone. glibc 2.34 and later do it in one file action (looked up at run time, so the bundle
// still loads on an older glibc); otherwise every descriptor open now without close-on-exec gets a close
// action (glibc ignores one closed meanwhile by another thread).
void add_close_from(posix_spawn_file_actions_t* fa, int lowest) {
    using CloseFrom = int (*)(posix_spawn_file_actions_t*, int);
    static const auto closefrom =
        reinterpret_cast<CloseFrom>(dlsym(RTLD_DEFAULT, "posix_spawn_file_actions_addclosefrom_np"));
    if (closefrom && closefrom(fa, lowest) == 0) return;
    auto add = [&](int fd) {
        const int flags = fcntl(fd, F_GETFD);
        if (fd >= lowest && flags >= 0 && !(flags & FD_CLOEXEC)) posix_spawn_file_actions_addclose(fa, fd);
    };
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (const dirent* e = readdir(dir))
            if (e->d_name[0] != '.') add(std::atoi(e->d_name));
        closedir(dir);  // its own descriptor is close-on-exec
        return;
    }
    const long most = sysconf(_SC_OPEN_MAX);  // no /proc: every possible descriptor
    const int last = most > 0 ? static_cast<int>(std::min(most, 1L << 20)) : 1024;
    for (int fd = lowest; fd < last; ++fd) add(fd);
}

}  // namespace

double env_seconds(const char* name, double dflt) {
    const char* v = std::getenv(name);
    if (!v || !*v) return dflt;
    char* end = nullptr;
    double d = std::strtod(v, &end);
    return (end != v && d > 0) ? d : dflt;
}

// ------------------------------------------------------------------ SharedBuffer
SharedBuffer::~SharedBuffer() {
    if (data_) munmap(data_, size_);
    if (!name_.empty()) shm_unlink(("/" + name_).c_str());
    if (fd_ >= 0) close(fd_);  // after the unlink: a sweep never sees this name unlocked
}

bool SharedBuffer::create(size_t bytes, std::string& error) {
    static std::atomic<unsigned long> counter{0};
    char name[96];
    std::snprintf(name, sizeof name, "%s%d-%lu-%lx", kShmPrefix, static_cast<int>(getpid()), counter.fetch_add(1),
                  static_cast<unsigned long>(now_s() * 1e6) & 0xffffffUL);
    int fd = shm_open((std::string("/") + name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        error = std::string("cannot create shared memory: ") + errno_text(errno);
        return false;
    }
    name_ = name;
    fd_ = fd;
    flock(fd, LOCK_EX | LOCK_NB);  // released by the kernel however this process ends
    if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
        error = std::string("cannot size shared memory to ") + std::to_string(bytes) + " bytes: " + errno_text(errno);
        return false;
    }
    // Reserve the pages now: a full /dev/shm then fails here instead of raising SIGBUS in the host later.
    const int rc = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
        error = "not enough shared memory (/dev/shm) for " + std::to_string(bytes >> 20) + " MiB: " + errno_text(rc);
        return false;
    }
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        error = std::string("cannot map shared memory: ") + errno_text(errno);
        return false;
    }
    data_ = static_cast<uint8_t*>(p);
    size_ = bytes;
    std::memset(data_, 0, kHeaderBytes);
    return true;
}

// A host that crashes (or is killed) mid-render cannot unlink its segment. One is abandoned when nobody
// holds its lock and either its owner's pid is gone or it is older than kSweepGraceS (its pid was
// reused by another process). The lock alone decides for a live owner, also one in another pid
// namespace sharing /dev/shm; the pid or the age guards the instant between creation and lock. A host killed
// while it spawns the worker leaves a holder for a moment: until its exec the spawned child shares the host's
// memory, the segment's mapping (so its lock) with it; a load after that exec sweeps the segment.
constexpr long kSweepGraceS = 30;

void SharedBuffer::sweep_abandoned() {
    DIR* dir = opendir("/dev/shm");
    if (!dir) return;
    const size_t plen = sizeof kShmPrefix - 1;
    while (const dirent* e = readdir(dir)) {
        if (std::strncmp(e->d_name, kShmPrefix, plen) != 0) continue;
        char* end = nullptr;
        const long pid = std::strtol(e->d_name + plen, &end, 10);
        if (end == e->d_name + plen || *end != '-' || pid <= 0 || pid == getpid()) continue;
        const bool pid_lives = kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
        const std::string name = std::string("/") + e->d_name;
        const int fd = shm_open(name.c_str(), O_RDONLY, 0);
        if (fd < 0) continue;  // gone already, or another user's
        struct stat st{};
        const bool old = fstat(fd, &st) == 0 && static_cast<long>(time(nullptr) - st.st_mtime) > kSweepGraceS;
        if ((!pid_lives || old) && flock(fd, LOCK_EX | LOCK_NB) == 0) shm_unlink(name.c_str());
        close(fd);
    }
    closedir(dir);
}

void SharedBuffer::set_abort() const {
    if (data_) __atomic_store_n(reinterpret_cast<uint32_t*>(data_ + kAbortAt), 1u, __ATOMIC_SEQ_CST);
}

bool SharedBuffer::tiles(uint32_t& done, uint32_t& total) const {
    if (!data_) return false;
    // The count is written with (or before) the first tile and never changes within a frame, so a
    // count of 0 means "nothing reported yet" and a done read a moment late only lags one tile.
    total = __atomic_load_n(reinterpret_cast<const uint32_t*>(data_ + kTilesAt), __ATOMIC_ACQUIRE);
    done = __atomic_load_n(reinterpret_cast<const uint32_t*>(data_ + kTilesDoneAt), __ATOMIC_ACQUIRE);
    if (total == 0) return false;
    done = std::min(done, total);
    return true;
}

// ------------------------------------------------------------------ WorkerClient
WorkerClient& WorkerClient::instance() {
    static WorkerClient* client = new WorkerClient();  // never destroyed: hosts unload in odd orders
    return *client;
}

std::string WorkerClient::find_executable(std::string& tried) {
    // 1. the environment
    if (const char* env = std::getenv("UNSHUTTER_EXECUTABLE"); env && *env) {
        tried = std::string("UNSHUTTER_EXECUTABLE=") + env;
        return is_executable(env) ? std::string(env) : std::string();
    }
    // 2. the path configured in the bundle: Contents/Resources/unshutter-executable.txt
    std::string bin = plugin_binary_path();
    if (!bin.empty()) {
        std::string cfg = dirname_of(dirname_of(bin)) + "/Resources/unshutter-executable.txt";
        std::ifstream in(cfg);
        std::string line;
        if (in && std::getline(in, line)) {
            while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
            tried += cfg + " (" + line + "), ";
            if (is_executable(line)) return line;
        } else {
            tried += cfg + " (absent), ";
        }
    }
    // 3. PATH
    tried += "unshutter on PATH";
    if (const char* path = std::getenv("PATH")) {
        std::string p(path);
        size_t start = 0;
        while (start <= p.size()) {
            size_t end = p.find(':', start);
            if (end == std::string::npos) end = p.size();
            std::string dir = p.substr(start, end - start);
            std::string cand = (dir.empty() ? std::string(".") : dir) + "/unshutter";
            if (is_executable(cand)) return cand;
            start = end + 1;
        }
    }
    return {};
}

bool WorkerClient::alive_locked() {
    if (pid_ <= 0 || fd_ < 0) return false;
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        last_exit_status_ = st;
        pid_ = -1;
        close(fd_);
        fd_ = -1;
        return false;
    }
    return true;  // running (or reaped by the host's SIGCHLD handling: the socket will tell)
}

std::string WorkerClient::exit_description_locked() {
    if (fd_ >= 0) {
        close(fd_);
        fd_ = -1;
    }
    if (pid_ > 0) {
        int st = 0;
        pid_t r = 0;
        for (int i = 0; i < 20 && (r = waitpid(pid_, &st, WNOHANG)) == 0; ++i) usleep(50000);
        if (r == 0) {
            kill(pid_, SIGKILL);
            r = waitpid(pid_, &st, 0);
        }
        last_exit_status_ = (r == pid_) ? st : -1;
        pid_ = -1;
    }
    int st = last_exit_status_;
    if (st < 0) return "closed its connection";
    if (WIFSIGNALED(st)) return "was killed by signal " + std::to_string(WTERMSIG(st));
    if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
    return "stopped";
}

void WorkerClient::kill_locked(const char*) {
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        int st = 0;
        if (waitpid(pid_, &st, 0) == pid_) last_exit_status_ = st;
    }
    pid_ = -1;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

bool WorkerClient::start_locked(std::string& error) {
    std::string tried;
    std::string exe = find_executable(tried);
    if (exe.empty()) {
        error = "Unshutter worker not found (tried " + tried +
                "): install Unshutter and set UNSHUTTER_EXECUTABLE to its 'unshutter' program";
        return false;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        error = "cannot create the worker socket: " + errno_text(errno);
        return false;
    }
    // Keep the child's end away from fd 3 so dup2 really duplicates (and drops close-on-exec).
    int child = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    close(sv[1]);
    if (child < 0) {
        close(sv[0]);
        error = "cannot prepare the worker socket: " + errno_text(errno);
        return false;
    }
    std::vector<std::string> args = {exe, "worker", "--fd", "3"};
    if (const char* m = std::getenv("UNSHUTTER_MODEL"); m && *m) {
        args.push_back("--model");
        args.push_back(m);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // The host's own Python settings (Nuke, Resolve, Flame set them) must not leak into the worker's Python.
    const bool keep_py = std::getenv("UNSHUTTER_KEEP_PYTHONPATH") != nullptr;
    std::vector<char*> envp;
    for (char** e = environ; e && *e; ++e) {
        if (!keep_py && (std::strncmp(*e, "PYTHONPATH=", 11) == 0 || std::strncmp(*e, "PYTHONHOME=", 11) == 0))
            continue;
        envp.push_back(*e);
    }
    envp.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, child, 3);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);  // nothing from the worker on the host's stdout
    add_close_from(&fa, 4);                       // only stdin, stdout, stderr and the socket are the worker's
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);  // hosts block signals in their threads
    sigset_t dflt;
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGCHLD);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(child);
    if (rc != 0) {
        close(sv[0]);
        error = "cannot start the Unshutter worker " + exe + ": " + errno_text(rc);
        return false;
    }
    pid_ = pid;
    fd_ = sv[0];
    std::string reply;
    Io io = send_locked("{\"op\": \"hello\"}");
    if (io == Io::Ok) io = recv_locked(reply, env_seconds("UNSHUTTER_OFX_START_TIMEOUT", 120.0), nullptr, nullptr);
    JsonReply hello;
    if (io == Io::Ok && hello.parse(reply) && hello.boolean("ok") && hello.integer("protocol") == 1) return true;
    if (io == Io::Timeout) {
        kill_locked("start timeout");
        error = "the Unshutter worker " + exe + " did not answer within " +
                std::to_string(static_cast<int>(env_seconds("UNSHUTTER_OFX_START_TIMEOUT", 120.0))) + " s of starting";
    } else if (io == Io::Ok) {
        kill_locked("bad hello");
        error = "the program " + exe + " is not a compatible Unshutter worker (protocol 1 expected)";
    } else {
        error = "the Unshutter worker " + exe + " " + exit_description_locked() +
                " while starting (see the host's console)";
    }
    return false;
}

WorkerClient::Io WorkerClient::send_locked(const std::string& msg) {
    std::string buf(4, '\0');
    uint32_t n = static_cast<uint32_t>(msg.size());
    for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    buf += msg;
    size_t off = 0;
    while (off < buf.size()) {
        ssize_t w = send(fd_, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return Io::Dead;
        }
        off += static_cast<size_t>(w);
    }
    return Io::Ok;
}

WorkerClient::Io WorkerClient::recv_locked(std::string& msg, double timeout_s, const std::function<bool()>& abort,
                                           const SharedBuffer* shm) {
    const double abort_grace = env_seconds("UNSHUTTER_OFX_ABORT_GRACE", 20.0);
    double deadline = now_s() + timeout_s;
    bool aborted = false;
    std::string buf;
    size_t want = 4;
    bool have_len = false;
    while (true) {
        if (!aborted && abort && abort()) {
            aborted = true;
            if (shm) shm->set_abort();
            deadline = std::min(deadline, now_s() + abort_grace);
        }
        double left = deadline - now_s();
        if (left <= 0) {
            if (aborted) {
                kill_locked("abort");
                return Io::Aborted;
            }
            return Io::Timeout;
        }
        pollfd p{fd_, POLLIN, 0};
        int r = poll(&p, 1, static_cast<int>(std::min(left, kPollS) * 1000) + 1);
        if (r < 0) {
            if (errno == EINTR) continue;
            return Io::Dead;
        }
        if (r == 0) continue;
        char tmp[65536];
        size_t room = std::min(sizeof tmp, want - buf.size());
        ssize_t got = recv(fd_, tmp, room, 0);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return Io::Dead;
        }
        if (got == 0) return Io::Dead;
        buf.append(tmp, static_cast<size_t>(got));
        if (buf.size() < want) continue;
        if (!have_len) {
            uint32_t n = 0;
            for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(static_cast<unsigned char>(buf[i])) << (8 * i);
            if (n > (1u << 24)) return Io::Dead;
            have_len = true;
            buf.clear();
            want = n;
            if (n == 0) break;
            continue;
        }
        break;
    }
    msg = buf;
    return Io::Ok;
}

CallResult WorkerClient::call(const std::string& request, const SharedBuffer* shm, const std::function<bool()>& abort) {
    CallResult r;
    while (!mutex_.try_lock_for(std::chrono::milliseconds(100))) {
        if (abort && abort()) {
            r.status = CallStatus::Aborted;
            r.error = "render aborted by the host";
            return r;
        }
    }
    std::lock_guard<std::timed_mutex> guard(mutex_, std::adopt_lock);
    const double timeout = env_seconds("UNSHUTTER_OFX_TIMEOUT", 600.0);
    std::string first_failure;
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!alive_locked()) {
            std::string err;
            if (!start_locked(err)) {
                r.error = first_failure.empty() ? err : first_failure + "; restarting it failed: " + err;
                return r;
            }
        }
        Io io = send_locked(request);
        if (io == Io::Ok) io = recv_locked(r.reply, timeout, abort, shm);
        if (io == Io::Ok) {
            r.status = CallStatus::Ok;
            return r;
        }
        if (io == Io::Aborted) {
            r.status = CallStatus::Aborted;
            r.error = "render aborted by the host (the worker was stopped)";
            return r;
        }
        if (io == Io::Timeout) {
            kill_locked("timeout");
            r.error = "the Unshutter worker did not answer within " + std::to_string(static_cast<int>(timeout)) +
                      " s (UNSHUTTER_OFX_TIMEOUT); it was stopped and the next render starts a new one";
            return r;
        }
        std::string how = exit_description_locked();
        if (first_failure.empty()) {
            first_failure = "the Unshutter worker " + how;
        } else {
            r.error = first_failure + ", was restarted and " + how +
                      " again (see the host's console); the next render retries";
            return r;
        }
        if (abort && abort()) {
            r.status = CallStatus::Aborted;
            r.error = "render aborted by the host";
            return r;
        }
    }
    r.error = first_failure;
    return r;
}

void WorkerClient::purge() {
    std::unique_lock<std::timed_mutex> lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock() || !alive_locked()) return;  // busy or not running: nothing to free
    std::string reply;
    Io io = send_locked("{\"op\": \"purge\"}");
    if (io == Io::Ok) io = recv_locked(reply, 10.0, nullptr, nullptr);
    if (io != Io::Ok) kill_locked("purge");
}

void WorkerClient::shutdown() {
    std::lock_guard<std::timed_mutex> guard(mutex_);
    if (pid_ <= 0 || fd_ < 0) {
        pid_ = -1;
        return;
    }
    std::string reply;
    if (send_locked("{\"op\": \"quit\"}") == Io::Ok) recv_locked(reply, 2.0, nullptr, nullptr);
    close(fd_);
    fd_ = -1;
    int st = 0;
    pid_t r = 0;
    for (int i = 0; i < 40 && (r = waitpid(pid_, &st, WNOHANG)) == 0; ++i) usleep(50000);
    if (r == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &st, 0);
    }
    pid_ = -1;
}

}  // namespace unshutter
