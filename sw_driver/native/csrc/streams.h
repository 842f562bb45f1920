// AXI4-Stream ends of the native harness: a source that feeds queued beats into one of the
// DUT's stream inputs, and a sink that collects one of its outputs into packets. Beats are
// stored as 32-bit words in flat vectors that keep their capacity, so the cycle loop does not
// allocate once the queues have grown to the traffic's size.
#pragma once

#include <cstdint>
#include <vector>

#include "port_words.h"

namespace hotline {

class StreamSource {
  public:
    void configure(int data_words) { words_ = data_words; }
    int words() const { return words_; }

    void push(const uint32_t* data, const uint64_t* user, const uint8_t* last, int beats) {
        if (head_ == user_.size()) {   // everything sent: reuse the storage from the start
            data_.clear();
            user_.clear();
            last_.clear();
            head_ = 0;
        }
        data_.insert(data_.end(), data, data + static_cast<size_t>(beats) * words_);
        user_.insert(user_.end(), user, user + beats);
        last_.insert(last_.end(), last, last + beats);
    }

    bool empty() const { return head_ == user_.size(); }
    size_t queued() const { return user_.size() - head_; }
    const uint32_t* data() const { return &data_[head_ * words_]; }
    uint64_t user() const { return user_[head_]; }
    bool last() const { return last_[head_] != 0; }
    void pop() { ++head_; }
    void clear() { head_ = user_.size(); }

  private:
    int words_ = 1;
    std::vector<uint32_t> data_;
    std::vector<uint64_t> user_;
    std::vector<uint8_t> last_;
    size_t head_ = 0;
};

class StreamSink {
  public:
    void configure(int data_words) { words_ = data_words; }
    int words() const { return words_; }

    // Called on a transfer with the beat's words (``words()`` of them).
    void take(const uint32_t* data, uint64_t user, bool last) {
        data_.insert(data_.end(), data, data + words_);
        user_.push_back(user);
        if (last) ends_.push_back(user_.size());
    }

    bool has_packet() const { return packet_head_ < ends_.size(); }
    size_t packets() const { return ends_.size() - packet_head_; }
    size_t packet_beats() const { return ends_[packet_head_] - beat_head_; }
    // Beats of the first ``count`` complete packets (``count`` <= ``packets()``).
    size_t beats_of_packets(size_t count) const {
        return count ? ends_[packet_head_ + count - 1] - beat_head_ : 0;
    }
    uint64_t packet_user() const { return user_[beat_head_]; }

    // Copies the next packet's words into ``out`` and drops it.
    void pop_packet(uint32_t* out) {
        const size_t end = ends_[packet_head_];
        const uint32_t* from = &data_[beat_head_ * words_];
        std::copy(from, from + (end - beat_head_) * words_, out);
        beat_head_ = end;
        ++packet_head_;
        if (packet_head_ == ends_.size() && beat_head_ == user_.size()) {
            data_.clear();
            user_.clear();
            ends_.clear();
            beat_head_ = packet_head_ = 0;
        }
    }

    void clear() {
        data_.clear();
        user_.clear();
        ends_.clear();
        beat_head_ = packet_head_ = 0;
    }

  private:
    int words_ = 1;
    std::vector<uint32_t> data_;
    std::vector<uint64_t> user_;
    std::vector<size_t> ends_;   // beat index one past each complete packet
    size_t beat_head_ = 0;
    size_t packet_head_ = 0;
};

}  // namespace hotline
