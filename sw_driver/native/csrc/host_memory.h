// Host memory of the native harness: an AXI4 subordinate with the knobs of the testbenches'
// tb/axi_memory.HostMemory (pipelined read / write latency with jitter, bursts of different IDs
// answered in random order with or without interleaving, limits on outstanding bursts, random
// stalls on every channel, error injection over byte ranges) and the same statistics.
//
// Cycle contract (the harness calls, after each rising edge ``cycle``): ``on_ar`` / ``on_aw`` /
// ``on_w`` / ``on_r_taken`` / ``on_b_taken`` for the transfers of that edge, then ``drive``,
// which decides the READYs and the next R / B beat. A burst accepted at edge a offers its first
// R beat from edge a + read_latency (+ jitter) on; B is offered from max(AW edge, last W edge) +
// write_latency (+ jitter) on. Same-ID bursts are always answered in order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "port_words.h"

namespace hotline {

enum Channel { kAW = 0, kW = 1, kB = 2, kAR = 3, kR = 4, kChannels = 5 };

struct MemoryKnobs {
    uint32_t read_latency = 1;
    uint32_t write_latency = 1;
    uint32_t latency_jitter = 0;
    uint32_t reorder = 0;
    uint32_t interleave = 1;
    uint32_t max_reads = 256;
    uint32_t max_writes = 256;
    double stall[kChannels] = {0, 0, 0, 0, 0};   // per cycle, per channel (aw, w, b, ar, r)
};

struct MemoryStats {
    uint64_t ar_bursts = 0, r_beats = 0, aw_bursts = 0, w_beats = 0, b_responses = 0;
    uint64_t max_outstanding_reads = 0, max_outstanding_writes = 0;
};

struct Fault {
    uint64_t start, end;   // bytes start .. end-1
    uint32_t resp;         // 2 SLVERR, 3 DECERR
    bool read, write;
};

class HostMemoryModel {
  public:
    static constexpr uint32_t kOkay = 0, kDecErr = 3;

    void configure(uint64_t size, unsigned bus_bytes, unsigned id_bits, const MemoryKnobs& knobs,
                   uint64_t seed) {
        bytes.assign(size, 0);
        bus_bytes_ = bus_bytes;
        knobs_ = knobs;
        for (int c = 0; c < kChannels; ++c) stall_[c] = probability_threshold(knobs.stall[c]);
        rng_.reseed(seed);
        read_queues_.assign(1u << id_bits, {});
        write_queues_.assign(1u << id_bits, {});
        reset();
    }

    // Forget every burst in flight (the DUT's reset); memory contents and faults stay.
    void reset() {
        reads_.clear();
        writes_.clear();
        for (auto& q : read_queues_) q.clear();
        for (auto& q : write_queues_) q.clear();
        read_order_.clear();
        write_order_.clear();
        awaiting_data_.clear();
        w_data_.clear();
        w_strb_.clear();
        w_last_.clear();
        w_head_ = 0;
        free_reads_.clear();
        free_writes_.clear();
        reads_outstanding_ = writes_outstanding_ = 0;
        current_read_ = -1;
        rvalid = bvalid = false;
        arready = awready = wready = false;
        seq_ = 0;
    }

    // -- transfers of the last edge ----------------------------------------------------------

    void on_ar(uint64_t cycle, unsigned id, uint64_t address, unsigned axlen) {
        ++stats.ar_bursts;
        const int b = new_burst(reads_, free_reads_, id, address, axlen, cycle);
        reads_[b].ready = cycle + knobs_.read_latency + jitter();
        read_queues_[id].push_back(b);
        read_order_.push_back(b);
        ++reads_outstanding_;
        stats.max_outstanding_reads = std::max<uint64_t>(stats.max_outstanding_reads,
                                                         reads_outstanding_);
    }

    // W beats may have come before their AW: they are matched now. Returns a violation or "".
    std::string on_aw(uint64_t cycle, unsigned id, uint64_t address, unsigned axlen) {
        ++stats.aw_bursts;
        const int b = new_burst(writes_, free_writes_, id, address, axlen, cycle);
        awaiting_data_.push_back(b);
        ++writes_outstanding_;
        stats.max_outstanding_writes = std::max<uint64_t>(stats.max_outstanding_writes,
                                                          writes_outstanding_);
        return match_writes(cycle);
    }

    // A W beat (``bus_bytes`` data bytes, strobes); returns a violation message or "".
    std::string on_w(uint64_t cycle, const uint8_t* data, uint64_t strb, bool last) {
        ++stats.w_beats;
        if (w_head_ == w_last_.size()) {
            w_data_.clear();
            w_strb_.clear();
            w_last_.clear();
            w_head_ = 0;
        }
        w_data_.insert(w_data_.end(), data, data + bus_bytes_);
        w_strb_.push_back(strb);
        w_last_.push_back(last);
        w_cycle_ = cycle;
        return match_writes(cycle);
    }

    void on_r_taken() {
        ++stats.r_beats;
        rvalid = false;
        Burst& burst = reads_[r_burst_];
        if (r_last_) {
            pop_queue(read_queues_[burst.id], r_burst_);
            erase(read_order_, r_burst_);
            free_reads_.push_back(r_burst_);
            --reads_outstanding_;
            if (current_read_ == r_burst_) current_read_ = -1;
        }
    }

    void on_b_taken() {
        ++stats.b_responses;
        bvalid = false;
        Burst& burst = writes_[b_burst_];
        pop_queue(write_queues_[burst.id], b_burst_);
        erase(write_order_, b_burst_);
        free_writes_.push_back(b_burst_);
        --writes_outstanding_;
    }

    // -- what to drive until the next edge ---------------------------------------------------

    void drive(uint64_t cycle) {
        arready = reads_outstanding_ < knobs_.max_reads && !rng_.chance(stall_[kAR]);
        awready = writes_outstanding_ < knobs_.max_writes && !rng_.chance(stall_[kAW]);
        wready = !rng_.chance(stall_[kW]);
        if (!rvalid && reads_outstanding_ && !rng_.chance(stall_[kR])) next_r(cycle);
        if (!bvalid && !write_order_.empty() && !rng_.chance(stall_[kB])) next_b(cycle);
    }

    bool busy() const {
        return reads_outstanding_ || writes_outstanding_ || w_head_ != w_last_.size();
    }
    uint32_t reads_outstanding() const { return reads_outstanding_; }
    uint32_t writes_outstanding() const { return writes_outstanding_; }
    size_t w_beats_waiting() const { return w_last_.size() - w_head_; }

    // -- faults ---------------------------------------------------------------------------

    void inject(const Fault& fault) { faults_.push_back(fault); }
    void clear_faults() { faults_.clear(); }

    // -- driven values ----------------------------------------------------------------------

    bool arready = false, awready = false, wready = false;
    bool rvalid = false, bvalid = false;
    unsigned rid = 0, rresp = 0, bid = 0, bresp = 0;
    bool rlast = false;
    uint8_t rdata[256] = {};
    std::vector<uint8_t> bytes;
    MemoryStats stats;

  private:
    struct Burst {
        unsigned id;
        uint64_t address, next_word, ready, last_edge;
        unsigned beats, done;
        uint32_t resp;
        uint64_t seq;
    };

    int new_burst(std::vector<Burst>& pool, std::vector<int>& free, unsigned id,
                  uint64_t address, unsigned axlen, uint64_t cycle) {
        int b;
        if (free.empty()) {
            b = static_cast<int>(pool.size());
            pool.push_back({});
        } else {
            b = free.back();
            free.pop_back();
        }
        Burst& burst = pool[b];
        burst.id = id;
        burst.address = address;
        burst.next_word = address - address % bus_bytes_;
        burst.beats = axlen + 1;
        burst.done = 0;
        burst.resp = kOkay;
        burst.ready = ~0ull;
        burst.last_edge = cycle;
        burst.seq = seq_++;
        return b;
    }

    static void pop_queue(std::deque<int>& queue, int b) {
        if (!queue.empty() && queue.front() == b) queue.pop_front();
    }
    static void erase(std::vector<int>& order, int b) {
        order.erase(std::find(order.begin(), order.end(), b));
    }

    uint32_t jitter() { return knobs_.latency_jitter ? rng_.below(knobs_.latency_jitter + 1) : 0; }

    uint32_t access_resp(uint64_t word, bool read) const {
        if (word + bus_bytes_ > bytes.size()) return kDecErr;
        uint32_t resp = kOkay;
        for (const Fault& f : faults_)
            if ((read ? f.read : f.write) && f.start < word + bus_bytes_ && word < f.end)
                resp = std::max(resp, f.resp);
        return resp;
    }

    // The burst to answer now among ``order`` (accept order), ``queues`` (per ID): -1 if none.
    int pick(const std::vector<int>& order, const std::vector<Burst>& pool,
             const std::vector<std::deque<int>>& queues, uint64_t cycle) {
        if (!knobs_.reorder) {
            const int b = order.front();
            return pool[b].ready <= cycle ? b : -1;
        }
        int eligible[64];
        int n = 0;
        for (int b : order) {
            const Burst& burst = pool[b];
            if (burst.ready <= cycle && queues[burst.id].front() == b && n < 64)
                eligible[n++] = b;
        }
        if (!n) return -1;
        return n == 1 ? eligible[0] : eligible[rng_.below(n)];
    }

    void next_r(uint64_t cycle) {
        int b = (!knobs_.interleave && current_read_ >= 0) ? current_read_
                                                           : pick(read_order_, reads_, read_queues_, cycle);
        if (b < 0) return;
        current_read_ = b;
        Burst& burst = reads_[b];
        const uint64_t word = burst.next_word;
        rresp = access_resp(word, true);
        if (rresp == kOkay) std::memcpy(rdata, &bytes[word], bus_bytes_);
        else std::memset(rdata, 0, bus_bytes_);
        rid = burst.id;
        burst.next_word += bus_bytes_;
        ++burst.done;
        rlast = burst.done == burst.beats;
        r_last_ = rlast;
        r_burst_ = b;
        rvalid = true;
    }

    void next_b(uint64_t cycle) {
        int b = -1;
        for (int candidate : write_order_)           // complete bursts only
            if (writes_[candidate].ready != ~0ull) { b = candidate; break; }
        if (b < 0) return;
        if (knobs_.reorder) {
            b = pick_complete_write(cycle);
        } else if (writes_[b].ready > cycle || write_queues_[writes_[b].id].front() != b) {
            b = -1;
        }
        if (b < 0) return;
        bid = writes_[b].id;
        bresp = writes_[b].resp;
        b_burst_ = b;
        bvalid = true;
    }

    int pick_complete_write(uint64_t cycle) {
        int eligible[64];
        int n = 0;
        for (int b : write_order_) {
            const Burst& burst = writes_[b];
            if (burst.ready <= cycle && write_queues_[burst.id].front() == b && n < 64)
                eligible[n++] = b;
        }
        if (!n) return -1;
        return n == 1 ? eligible[0] : eligible[rng_.below(n)];
    }

    std::string match_writes(uint64_t cycle) {
        std::string violation;
        while (!awaiting_data_.empty() && w_head_ < w_last_.size()) {
            const int b = awaiting_data_.front();
            Burst& burst = writes_[b];
            write_beat(burst, &w_data_[w_head_ * bus_bytes_], w_strb_[w_head_]);
            const bool wlast = w_last_[w_head_] != 0;
            ++w_head_;
            ++burst.done;
            burst.last_edge = std::max(burst.last_edge, w_cycle_);
            if (burst.done == burst.beats || wlast) {
                if (violation.empty() && burst.done < burst.beats)
                    violation = "m_axi W: WLAST before the burst's last beat (beat " +
                                std::to_string(burst.done) + " of " + std::to_string(burst.beats) +
                                "), cycle " + std::to_string(cycle);
                else if (violation.empty() && !wlast)
                    violation = "m_axi W: WLAST low on the burst's last beat (beat " +
                                std::to_string(burst.beats) + "), cycle " + std::to_string(cycle);
                awaiting_data_.pop_front();
                burst.ready = burst.last_edge + knobs_.write_latency + jitter();
                write_queues_[burst.id].push_back(b);
                write_order_.push_back(b);
            }
        }
        return violation;
    }

    void write_beat(Burst& burst, const uint8_t* data, uint64_t strb) {
        const uint64_t word = burst.next_word;
        burst.next_word += bus_bytes_;
        const uint32_t resp = access_resp(word, false);
        if (resp != kOkay) {
            burst.resp = std::max(burst.resp, resp);
            if (word + bus_bytes_ > bytes.size()) return;
            for (const Fault& f : faults_) {
                if (!f.write) continue;
                const uint64_t lo = std::max(f.start, word), hi = std::min(f.end, word + bus_bytes_);
                for (uint64_t a = lo; a < hi; ++a) strb &= ~(1ull << (a - word));
            }
        }
        for (unsigned lane = 0; lane < bus_bytes_; ++lane)
            if (strb >> lane & 1) bytes[word + lane] = data[lane];
    }

    unsigned bus_bytes_ = 16;
    MemoryKnobs knobs_;
    uint32_t stall_[kChannels] = {};
    Rng rng_;
    std::vector<Burst> reads_, writes_;
    std::vector<int> free_reads_, free_writes_;
    std::vector<std::deque<int>> read_queues_, write_queues_;
    std::vector<int> read_order_, write_order_;   // accept order (reads) / completion order
    std::deque<int> awaiting_data_;
    std::vector<Fault> faults_;
    std::vector<uint8_t> w_data_;
    std::vector<uint64_t> w_strb_;
    std::vector<uint8_t> w_last_;
    size_t w_head_ = 0;
    uint64_t w_cycle_ = 0;
    uint32_t reads_outstanding_ = 0, writes_outstanding_ = 0;
    int current_read_ = -1;
    int r_burst_ = -1, b_burst_ = -1;
    bool r_last_ = false;
    uint64_t seq_ = 0;
};

}  // namespace hotline
