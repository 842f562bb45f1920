// The C ABI of the native harness (sw_driver/native/library.py declares the same signatures):
// thin wrappers around hotline::Harness (harness.h), the only symbols the library exports.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "harness.h"

#define HL_API extern "C" __attribute__((visibility("default")))

using hotline::Harness;

HL_API void* hl_create(const hotline::Knobs* knobs) {
    try {
        auto* harness = new Harness(*knobs);
        harness->reset(3);
        return harness;
    } catch (...) {
        return nullptr;
    }
}
HL_API void hl_destroy(void* h) { delete static_cast<Harness*>(h); }
HL_API const char* hl_message(void* h) { return static_cast<Harness*>(h)->message().c_str(); }
HL_API uint64_t hl_cycle(void* h) { return static_cast<Harness*>(h)->cycle(); }
HL_API uint8_t* hl_memory(void* h) { return static_cast<Harness*>(h)->memory.bytes.data(); }
HL_API uint64_t hl_memory_size(void* h) { return static_cast<Harness*>(h)->memory.bytes.size(); }
HL_API int hl_bus_bytes(void* h) { return static_cast<Harness*>(h)->bus_bytes(); }
HL_API int hl_port_words(void* h, int port) { return static_cast<Harness*>(h)->port_words(port); }
HL_API uint64_t hl_queued(void* h, int port) { return static_cast<Harness*>(h)->queued(port); }
HL_API int hl_reset(void* h, uint32_t cycles) { return static_cast<Harness*>(h)->reset(cycles); }
HL_API int hl_register(void* h, int write, uint32_t address, uint32_t data, uint32_t strb,
                       uint64_t timeout, uint32_t* data_out, uint32_t* resp_out) {
    return static_cast<Harness*>(h)->register_access(write != 0, address, data, strb, timeout,
                                                     data_out, resp_out);
}
HL_API int hl_send(void* h, int port, const uint32_t* data, const uint64_t* user,
                   const uint8_t* last, int beats) {
    return static_cast<Harness*>(h)->send(port, data, user, last, beats);
}
HL_API int hl_recv(void* h, int port, uint64_t timeout, uint32_t* out, uint64_t capacity,
                   uint64_t* beats, uint64_t* user) {
    return static_cast<Harness*>(h)->recv(port, timeout, out, capacity, beats, user);
}
HL_API int hl_recv_many(void* h, int port, uint64_t count, uint64_t timeout, uint32_t* out,
                        uint64_t capacity, uint64_t* packet_beats, uint64_t* users,
                        uint64_t* total) {
    return static_cast<Harness*>(h)->recv_many(port, count, timeout, out, capacity,
                                               packet_beats, users, total);
}
HL_API int hl_idle(void* h, uint64_t timeout) { return static_cast<Harness*>(h)->idle(timeout); }
HL_API int hl_run(void* h, uint64_t cycles) { return static_cast<Harness*>(h)->run(cycles); }
HL_API void hl_idle_loop(void* h, uint64_t cycles) { static_cast<Harness*>(h)->idle_loop(cycles); }
HL_API int hl_waves(void* h, const char* path, uint64_t start, uint64_t stop) {
    return static_cast<Harness*>(h)->waves(path, start, stop);
}
HL_API void hl_inject(void* h, uint64_t start, uint64_t end, uint32_t resp, int read, int write) {
    static_cast<Harness*>(h)->memory.inject({start, end, resp, read != 0, write != 0});
}
HL_API void hl_clear_faults(void* h) { static_cast<Harness*>(h)->memory.clear_faults(); }
HL_API void hl_stats(void* h, uint64_t* out) {
    const hotline::HostMemoryModel& m = static_cast<Harness*>(h)->memory;
    const hotline::MemoryStats& s = m.stats;
    const uint64_t values[] = {s.ar_bursts, s.r_beats, s.aw_bursts, s.w_beats, s.b_responses,
                               s.max_outstanding_reads, s.max_outstanding_writes,
                               m.reads_outstanding(), m.writes_outstanding(), m.w_beats_waiting()};
    std::memcpy(out, values, sizeof values);
}
HL_API void hl_clear_stats(void* h) { static_cast<Harness*>(h)->memory.stats = {}; }

// The checks on a recorded trace (what the harness applies to the DUT's channels each cycle):
// ``valid`` / ``ready`` per cycle, ``words`` payload words per cycle. Returns the cycle of the
// first violation (message in ``text``) or -1.
HL_API int64_t hl_check_handshake(const uint8_t* valid, const uint8_t* ready,
                                  const uint32_t* payload, int words, int64_t cycles,
                                  char* text, int capacity) {
    hotline::HandshakeRule rule("trace");
    std::string error;
    for (int64_t c = 0; c < cycles; ++c) {
        if (!rule.observe(c, valid[c], ready[c], payload + c * words, words, error)) {
            std::snprintf(text, capacity, "%s", error.c_str());
            return c;
        }
    }
    return -1;
}
HL_API int hl_check_burst(uint64_t address, unsigned axlen, unsigned axsize, unsigned axburst,
                          unsigned bus_bytes, char* text, int capacity) {
    const std::string error = hotline::burst_violation("trace", 0, address, axlen, axsize,
                                                       axburst, bus_bytes);
    std::snprintf(text, capacity, "%s", error.c_str());
    return error.empty() ? 0 : 1;
}
