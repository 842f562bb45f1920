// Protocol checks the native harness applies to every channel the DUT drives: the handshake
// rules of AXI4 / AXI4-Stream (valid, once raised, stays until ready; the payload holds while
// stalled) and the burst rules of an AXI4 manager (INCR, full-width beats, aligned, at most 256
// beats, no 4 KiB crossing). A violation is a message naming the port, the rule and the cycle;
// the harness stops at the first one.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace hotline {

constexpr int kMaxPayloadWords = 48;   // 1536 bits: the widest payload a channel may carry

// One channel's handshake rule. Each cycle the harness calls ``observe`` with valid, ready and
// (only when needed: ``needs_payload``) the payload words, all sampled before the edge.
class HandshakeRule {
  public:
    explicit HandshakeRule(const char* port = "") : port_(port) {}

    void reset() { stalled_ = false; }

    // The payload must be passed when the channel stalled last cycle or stalls now.
    bool needs_payload(bool valid, bool ready) const { return stalled_ || (valid && !ready); }

    // Returns false (and writes ``error``) on a violation.
    bool observe(uint64_t cycle, bool valid, bool ready, const uint32_t* payload, int words,
                 std::string& error) {
        if (stalled_) {
            if (!valid) {
                error = message(cycle, "valid dropped before ready (the transfer offered on "
                                       "the previous cycle was withdrawn)");
                return false;
            }
            if (std::memcmp(held_, payload, sizeof(uint32_t) * words) != 0) {
                error = message(cycle, "payload changed while stalled (valid high, ready low "
                                       "on the previous cycle)");
                return false;
            }
        }
        stalled_ = valid && !ready;
        if (stalled_) std::memcpy(held_, payload, sizeof(uint32_t) * words);
        return true;
    }

    std::string message(uint64_t cycle, const char* rule) const {
        char text[512];
        std::snprintf(text, sizeof text, "%s: %s, cycle %llu", port_, rule,
                      static_cast<unsigned long long>(cycle));
        return text;
    }

  private:
    const char* port_;
    bool stalled_ = false;
    uint32_t held_[kMaxPayloadWords] = {};
};

// The burst rules of one AR / AW; returns an empty string if the burst keeps them.
inline std::string burst_violation(const char* port, uint64_t cycle, uint64_t address,
                                   unsigned axlen, unsigned axsize, unsigned axburst,
                                   unsigned bus_bytes) {
    char text[512];
    const char* rule = nullptr;
    char detail[256];
    unsigned full_size = 0;
    while ((2u << full_size) <= bus_bytes) ++full_size;
    const uint64_t beat = 1ull << axsize;
    const uint64_t start = address - address % beat;
    const uint64_t end = start + (axlen + 1ull) * beat;   // exclusive
    if (axburst != 1) {
        rule = "only INCR bursts";
        std::snprintf(detail, sizeof detail, "AxBURST=%u", axburst);
    } else if (axsize != full_size) {
        rule = "beats must be the full bus width";
        std::snprintf(detail, sizeof detail, "AxSIZE=%u, bus %u bytes", axsize, bus_bytes);
    } else if (axlen > 255) {
        rule = "at most 256 beats";
        std::snprintf(detail, sizeof detail, "AxLEN=%u", axlen);
    } else if (address % bus_bytes) {
        rule = "address aligned to the bus width";
        std::snprintf(detail, sizeof detail, "address 0x%llx, bus %u bytes",
                      static_cast<unsigned long long>(address), bus_bytes);
    } else if ((start >> 12) != ((end - 1) >> 12)) {
        rule = "a burst must not cross a 4 KiB boundary";
        std::snprintf(detail, sizeof detail, "burst 0x%llx..0x%llx",
                      static_cast<unsigned long long>(start),
                      static_cast<unsigned long long>(end - 1));
    }
    if (!rule) return std::string();
    std::snprintf(text, sizeof text, "%s: %s (%s, address 0x%llx, len %u), cycle %llu", port,
                  rule, detail, static_cast<unsigned long long>(address), axlen,
                  static_cast<unsigned long long>(cycle));
    return text;
}

}  // namespace hotline
