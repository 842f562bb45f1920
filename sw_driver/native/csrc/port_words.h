// Port access for the native harness: Verilator gives a port of <= 8 / 16 / 32 / 64 bits a
// CData / SData / IData / QData and a wider one a VlWide<N>; these helpers move any of them
// to and from little-endian 32-bit words, so the harness is written once for every build
// (the widths of a configuration only change the types Verilator picks).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "verilated.h"

namespace hotline {

template <class T>
struct PortWords {
    static constexpr int value = (sizeof(T) + 3) / 4;
};
template <std::size_t N>
struct PortWords<VlWide<N>> {
    static constexpr int value = static_cast<int>(N);
};

template <class T>
inline void to_words(const T& port, uint32_t* words) {
    if constexpr (std::is_integral_v<T>) {
        const uint64_t value = port;
        words[0] = static_cast<uint32_t>(value);
        if constexpr (PortWords<T>::value > 1) words[1] = static_cast<uint32_t>(value >> 32);
    } else {
        for (int i = 0; i < PortWords<T>::value; ++i) words[i] = port[i];
    }
}

template <class T>
inline void from_words(T& port, const uint32_t* words) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t value = words[0];
        if constexpr (PortWords<T>::value > 1) value |= static_cast<uint64_t>(words[1]) << 32;
        port = static_cast<T>(value);
    } else {
        for (int i = 0; i < PortWords<T>::value; ++i) port[i] = words[i];
    }
}

// Bytes (little-endian, ``count`` <= the port's bytes) into a port; the rest is zeroed.
template <class T>
inline void from_bytes(T& port, const uint8_t* bytes, int count) {
    uint32_t words[PortWords<T>::value] = {};
    std::memcpy(words, bytes, count);
    from_words(port, words);
}

template <class T>
inline void to_bytes(const T& port, uint8_t* bytes, int count) {
    uint32_t words[PortWords<T>::value];
    to_words(port, words);
    std::memcpy(bytes, words, count);
}

template <class T>
inline void clear_port(T& port) {
    if constexpr (std::is_integral_v<T>) {
        port = 0;
    } else {
        for (int i = 0; i < PortWords<T>::value; ++i) port[i] = 0;
    }
}

// xorshift64*: the harness's only source of randomness (stalls, reordering, jitter), seeded
// per transport, so a run is reproducible from its seed.
class Rng {
  public:
    explicit Rng(uint64_t seed = 1) { reseed(seed); }
    void reseed(uint64_t seed) {
        state_ = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
        if (!state_) state_ = 1;
    }
    uint64_t next() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545F4914F6CDD1Dull;
    }
    // uniform in 0 .. n-1 (n >= 1)
    uint32_t below(uint32_t n) { return static_cast<uint32_t>((next() >> 32) * n >> 32); }
    // true with probability threshold / 2**32 (0: never, 0xFFFFFFFF: always)
    bool chance(uint32_t threshold) {
        if (threshold == 0) return false;
        if (threshold == 0xFFFFFFFFu) return true;
        return static_cast<uint32_t>(next() >> 32) < threshold;
    }

  private:
    uint64_t state_;
};

inline uint32_t probability_threshold(double p) {
    if (p <= 0.0) return 0;
    if (p >= 1.0) return 0xFFFFFFFFu;
    return static_cast<uint32_t>(p * 4294967296.0);
}

}  // namespace hotline
