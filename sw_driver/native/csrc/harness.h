#pragma once

// Build-time constants (from the configuration, see sw_driver/native/build.py):
// HOTLINE_BUS_BYTES (m_axi data bytes), HOTLINE_ID_BITS (m_axi ID width), HOTLINE_WAVES (FST).
//
// The native harness of HotlineTop: owns the clock and every port of the Verilated top and
// moves whole transactions across the C ABI (one register access, a batch of stream beats, one
// packet, host memory as shared bytes). Python (sw_driver/native/transport.py) calls it through
// ctypes; nothing here runs Python code, and nothing runs per cycle on the Python side.
//
// Port names: Verilator spells Amaranth's ``__`` separator ``___05F`` (m_axi__arvalid is the
// member m_axi___05Farvalid).
//
// Per cycle: inputs are driven, the design settles (clk low), every handshake is sampled and
// the protocol checks look at what the DUT drives, the rising edge is evaluated, then the
// transfers are applied to the queues / host memory and the next inputs are decided.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "Vhotline_top.h"
#include "verilated.h"
#ifdef HOTLINE_WAVES
#include "verilated_fst_c.h"
#endif

#include "host_memory.h"
#include "port_words.h"
#include "protocol_checks.h"
#include "streams.h"

namespace hotline {

enum Status { kOk = 0, kTimeout = 1, kProtocol = 2, kUsage = 3, kNeedSpace = 4 };
enum Port { kLookups = 0, kWriteBack = 1, kMicroBatches = 2, kRows = 3 };

// Knobs of one transport (mirrors sw_driver/native/library.py's HarnessKnobs).
struct Knobs {
    uint64_t memory_size;
    uint64_t seed;
    uint32_t read_latency, write_latency, latency_jitter, reorder, interleave;
    uint32_t max_reads, max_writes;
    double stall[kChannels];   // aw, w, b, ar, r
    double input_gap;          // per cycle: an input stream withholds its next beat
    double output_stall;       // per cycle: an output stream holds tready low
};

class Harness {
  public:
    explicit Harness(const Knobs& knobs) : knobs_(knobs) {
        context_ = std::make_unique<VerilatedContext>();
#ifdef HOTLINE_WAVES
        context_->traceEverOn(true);
#endif
        top_ = std::make_unique<Vhotline_top>(context_.get());
        MemoryKnobs mk;
        mk.read_latency = knobs.read_latency;
        mk.write_latency = knobs.write_latency;
        mk.latency_jitter = knobs.latency_jitter;
        mk.reorder = knobs.reorder;
        mk.interleave = knobs.interleave;
        mk.max_reads = knobs.max_reads;
        mk.max_writes = knobs.max_writes;
        for (int c = 0; c < kChannels; ++c) mk.stall[c] = knobs.stall[c];
        memory.configure(knobs.memory_size, kBusBytes, HOTLINE_ID_BITS, mk, knobs.seed);
        rng_.reseed(knobs.seed ^ 0x5eedull);
        input_gap_ = probability_threshold(knobs.input_gap);
        output_stall_ = probability_threshold(knobs.output_stall);
        lookups_.configure(PortWords<decltype(top_->s_axis_lookups___05Ftdata)>::value);
        write_backs_.configure(PortWords<decltype(top_->s_axis_write_back___05Ftdata)>::value);
        micro_batches_.configure(PortWords<decltype(top_->m_axis_micro_batches___05Ftdata)>::value);
        rows_.configure(PortWords<decltype(top_->m_axis_rows___05Ftdata)>::value);
    }

    ~Harness() {
#ifdef HOTLINE_WAVES
        if (waves_) waves_->close();
#endif
        top_->final();
    }

    // -- lifecycle -------------------------------------------------------------------------

    int reset(uint32_t cycles) {
        lookups_.clear();
        write_backs_.clear();
        micro_batches_.clear();
        rows_.clear();
        memory.reset();
        axil_ = AxilOp{};
        for (HandshakeRule* rule : rules()) rule->reset();
        idle_inputs();
        top_->rst = 1;
        for (uint32_t n = 0; n < cycles; ++n) clock_edge();
        top_->rst = 0;
        drive();
        last_progress_ = cycle_;
        return kOk;
    }

    // -- transactions --------------------------------------------------------------------------

    int register_access(bool write, uint32_t address, uint32_t data, uint32_t strb,
                        uint64_t timeout, uint32_t* data_out, uint32_t* resp_out) {
        if (!error_.empty() && sticky_) return kProtocol;
        axil_ = AxilOp{};
        axil_.active = true;
        axil_.write = write;
        axil_.address = address;
        axil_.data = data;
        axil_.strb = strb;
        axil_.aw_pending = axil_.w_pending = write;
        axil_.ar_pending = !write;
        drive_axil();
        const int status = run_until([this] { return axil_.done; }, timeout,
                                     write ? "s_axil B (register write response)"
                                           : "s_axil R (register read data)");
        if (status != kOk) {
            axil_ = AxilOp{};
            idle_axil();
            return status;
        }
        *data_out = axil_.rdata;
        *resp_out = axil_.resp;
        axil_ = AxilOp{};
        idle_axil();
        return kOk;
    }

    int send(int port, const uint32_t* data, const uint64_t* user, const uint8_t* last, int beats) {
        StreamSource* source = port == kLookups ? &lookups_ : port == kWriteBack ? &write_backs_ : nullptr;
        if (!source) return usage("send: port must be 0 (s_axis_lookups) or 1 (s_axis_write_back)");
        source->push(data, user, last, beats);
        return kOk;
    }

    int recv(int port, uint64_t timeout, uint32_t* out, uint64_t capacity, uint64_t* beats,
             uint64_t* user) {
        StreamSink* sink = port == kMicroBatches ? &micro_batches_ : port == kRows ? &rows_ : nullptr;
        if (!sink) return usage("recv: port must be 2 (m_axis_micro_batches) or 3 (m_axis_rows)");
        if (!sink->has_packet()) {
            const int status = run_until([sink] { return sink->has_packet(); }, timeout,
                                         port == kMicroBatches ? "m_axis_micro_batches packet"
                                                               : "m_axis_rows packet");
            if (status != kOk) return status;
        }
        *beats = sink->packet_beats();
        *user = sink->packet_user();
        if (*beats > capacity) return kNeedSpace;
        sink->pop_packet(out);
        return kOk;
    }

    // The next ``count`` packets at once: their words back to back in ``out``, each packet's
    // beat count and first tuser in ``packet_beats`` / ``users``.
    int recv_many(int port, uint64_t count, uint64_t timeout, uint32_t* out, uint64_t capacity,
                  uint64_t* packet_beats, uint64_t* users, uint64_t* total) {
        StreamSink* sink = port == kMicroBatches ? &micro_batches_ : port == kRows ? &rows_ : nullptr;
        if (!sink) return usage("recv_many: port must be 2 (m_axis_micro_batches) or 3 (m_axis_rows)");
        if (sink->packets() < count) {
            const int status = run_until([sink, count] { return sink->packets() >= count; },
                                         timeout, port == kMicroBatches
                                                      ? "m_axis_micro_batches packets"
                                                      : "m_axis_rows packets");
            if (status != kOk) return status;
        }
        *total = sink->beats_of_packets(count);
        if (*total > capacity) return kNeedSpace;
        const int words = sink->words();
        for (uint64_t n = 0; n < count; ++n) {
            packet_beats[n] = sink->packet_beats();
            users[n] = sink->packet_user();
            sink->pop_packet(out);
            out += packet_beats[n] * words;
        }
        return kOk;
    }

    int idle(uint64_t timeout) {
        return run_until([this] { return lookups_.empty() && write_backs_.empty() && !lookup_valid_ && !write_back_valid_; },
                         timeout, "s_axis_lookups / s_axis_write_back to take the queued beats");
    }

    int run(uint64_t cycles) {
        if (!error_.empty() && sticky_) return kProtocol;
        for (uint64_t n = 0; n < cycles; ++n) {
            step();
            if (!error_.empty()) return kProtocol;
        }
        return kOk;
    }

    // Verilator's own loop on this build: idle inputs, outputs ready, nothing but the clock.
    void idle_loop(uint64_t cycles) {
        idle_inputs();
        top_->m_axis_micro_batches___05Ftready = 1;
        top_->m_axis_rows___05Ftready = 1;
        top_->m_axi___05Farready = 1;
        top_->m_axi___05Fawready = 1;
        top_->m_axi___05Fwready = 1;
        for (uint64_t n = 0; n < cycles; ++n) {
            top_->clk = 0;
            top_->eval();
            top_->clk = 1;
            top_->eval();
        }
        cycle_ += cycles;
        last_progress_ = cycle_;
        drive();
    }

    int waves(const char* path, uint64_t start, uint64_t stop) {
#ifdef HOTLINE_WAVES
        if (waves_) waves_->close();
        waves_ = std::make_unique<VerilatedFstC>();
        top_->trace(waves_.get(), 99);
        waves_->open(path);
        wave_start_ = start;
        wave_stop_ = stop;
        return kOk;
#else
        (void)path; (void)start; (void)stop;
        return usage("waves: this build has no tracing (create the transport with waves=...)");
#endif
    }

    const std::string& message() const { return error_; }
    uint64_t cycle() const { return cycle_; }
    unsigned bus_bytes() const { return kBusBytes; }
    int port_words(int port) const {
        switch (port) {
            case kLookups: return lookups_.words();
            case kWriteBack: return write_backs_.words();
            case kMicroBatches: return micro_batches_.words();
            case kRows: return rows_.words();
            default: return 0;
        }
    }
    size_t queued(int port) const {
        switch (port) {
            case kLookups: return lookups_.queued() + lookup_valid_;
            case kWriteBack: return write_backs_.queued() + write_back_valid_;
            case kMicroBatches: return micro_batches_.packets();
            case kRows: return rows_.packets();
            default: return 0;
        }
    }

    HostMemoryModel memory;

  private:
    struct AxilOp {
        bool active = false, write = false, done = false;
        bool aw_pending = false, w_pending = false, ar_pending = false;
        uint32_t address = 0, data = 0, strb = 0, rdata = 0, resp = 0;
    };

    std::array<HandshakeRule*, 7> rules() {
        return {&rule_ar_, &rule_aw_, &rule_w_, &rule_mb_, &rule_rows_, &rule_axil_b_, &rule_axil_r_};
    }

    int usage(const std::string& text) {
        error_ = text;
        sticky_ = false;
        return kUsage;
    }

    template <class Done>
    int run_until(Done done, uint64_t timeout, const char* waiting_for) {
        if (!error_.empty() && sticky_) return kProtocol;
        error_.clear();
        last_progress_ = cycle_;
        while (!done()) {
            step();
            if (!error_.empty()) return kProtocol;
            if (cycle_ - last_progress_ > timeout) {
                char text[768];
                std::snprintf(text, sizeof text,
                              "timeout waiting for %s: no transfer on any port for %llu cycles "
                              "(cycle %llu); queued: %zu lookup beats, %zu write-back beats; "
                              "host memory: %u reads and %u writes outstanding",
                              waiting_for, static_cast<unsigned long long>(timeout),
                              static_cast<unsigned long long>(cycle_), queued(kLookups),
                              queued(kWriteBack), memory.reads_outstanding(),
                              memory.writes_outstanding());
                error_ = text;
                sticky_ = false;
                return kTimeout;
            }
        }
        return kOk;
    }

    void clock_edge() {
        top_->clk = 0;
        top_->eval();
        dump(2 * cycle_);
        top_->clk = 1;
        top_->eval();
        ++cycle_;
        dump(2 * cycle_ - 1);
    }

    void dump(uint64_t time) {
#ifdef HOTLINE_WAVES
        if (waves_ && cycle_ >= wave_start_ && cycle_ < wave_stop_) waves_->dump(time);
        if (waves_ && cycle_ >= wave_stop_) {
            waves_->close();
            waves_.reset();
        }
#else
        (void)time;
#endif
    }

    // One clock cycle with every port served.
    void step() {
        Vhotline_top* t = top_.get();
        t->clk = 0;
        t->eval();
        dump(2 * cycle_);
        const uint64_t edge = cycle_ + 1;

        // -- sample the handshakes of this cycle ------------------------------------------
        const bool lk_fire = lookup_valid_ && t->s_axis_lookups___05Ftready;
        const bool wb_fire = write_back_valid_ && t->s_axis_write_back___05Ftready;
        const bool ar_valid = t->m_axi___05Farvalid, aw_valid = t->m_axi___05Fawvalid, w_valid = t->m_axi___05Fwvalid;
        const bool ar_fire = ar_valid && memory.arready;
        const bool aw_fire = aw_valid && memory.awready;
        const bool w_fire = w_valid && memory.wready;
        const bool r_fire = memory.rvalid && t->m_axi___05Frready;
        const bool b_fire = memory.bvalid && t->m_axi___05Fbready;
        const bool mb_valid = t->m_axis_micro_batches___05Ftvalid;
        const bool mb_fire = mb_valid && t->m_axis_micro_batches___05Ftready;
        const bool rows_valid = t->m_axis_rows___05Ftvalid;
        const bool rows_fire = rows_valid && t->m_axis_rows___05Ftready;
        const bool axil_aw_fire = t->s_axil___05Fawvalid && t->s_axil___05Fawready;
        const bool axil_w_fire = t->s_axil___05Fwvalid && t->s_axil___05Fwready;
        const bool axil_ar_fire = t->s_axil___05Farvalid && t->s_axil___05Farready;
        const bool axil_b_valid = t->s_axil___05Fbvalid, axil_r_valid = t->s_axil___05Frvalid;
        const bool axil_b_fire = axil_b_valid && t->s_axil___05Fbready;
        const bool axil_r_fire = axil_r_valid && t->s_axil___05Frready;

        check_handshakes(edge, ar_valid, aw_valid, w_valid, mb_valid, rows_valid, axil_b_valid,
                         axil_r_valid);

        // -- capture what the DUT offers on the transfers ------------------------------------
        uint32_t words[kMaxPayloadWords];
        if (mb_fire) {
            to_words(t->m_axis_micro_batches___05Ftdata, words);
            micro_batches_.take(words, 0, t->m_axis_micro_batches___05Ftlast);
        }
        if (rows_fire) {
            to_words(t->m_axis_rows___05Ftdata, words);
            rows_.take(words, t->m_axis_rows___05Ftuser, t->m_axis_rows___05Ftlast);
        }
        if (ar_fire) {
            check_burst("m_axi AR", edge, t->m_axi___05Faraddr, t->m_axi___05Farlen, t->m_axi___05Farsize,
                        t->m_axi___05Farburst);
            memory.on_ar(edge, t->m_axi___05Farid, t->m_axi___05Faraddr, t->m_axi___05Farlen);
        }
        if (aw_fire) {
            check_burst("m_axi AW", edge, t->m_axi___05Fawaddr, t->m_axi___05Fawlen, t->m_axi___05Fawsize,
                        t->m_axi___05Fawburst);
            const std::string violation = memory.on_aw(edge, t->m_axi___05Fawid,
                                                       t->m_axi___05Fawaddr, t->m_axi___05Fawlen);
            if (!violation.empty()) protocol_error(violation);
        }
        if (w_fire) {
            uint8_t data[256];
            to_bytes(t->m_axi___05Fwdata, data, kBusBytes);
            const std::string violation = memory.on_w(edge, data, t->m_axi___05Fwstrb, t->m_axi___05Fwlast);
            if (!violation.empty()) protocol_error(violation);
        }
        if (axil_r_fire) {
            if (!(axil_.active && !axil_.write && !axil_.ar_pending))
                protocol_error(axil_response_error("R", edge));
            axil_.rdata = t->s_axil___05Frdata;
            axil_.resp = t->s_axil___05Frresp;
            axil_.done = true;
        }
        if (axil_b_fire) {
            if (!(axil_.active && axil_.write && !axil_.aw_pending && !axil_.w_pending))
                protocol_error(axil_response_error("B", edge));
            axil_.resp = t->s_axil___05Fbresp;
            axil_.done = true;
        }

        t->clk = 1;
        t->eval();
        cycle_ = edge;
        dump(2 * cycle_ - 1);

        // -- apply the transfers, decide the next inputs -------------------------------------
        if (lk_fire) lookup_valid_ = false;
        if (wb_fire) write_back_valid_ = false;
        if (r_fire) memory.on_r_taken();
        if (b_fire) memory.on_b_taken();
        if (axil_aw_fire) axil_.aw_pending = false;
        if (axil_w_fire) axil_.w_pending = false;
        if (axil_ar_fire) axil_.ar_pending = false;
        if (lk_fire | wb_fire | ar_fire | aw_fire | w_fire | r_fire | b_fire | mb_fire |
            rows_fire | axil_aw_fire | axil_w_fire | axil_ar_fire | axil_b_fire | axil_r_fire)
            last_progress_ = edge;
        drive();
    }

    void check_handshakes(uint64_t edge, bool ar_valid, bool aw_valid, bool w_valid,
                          bool mb_valid, bool rows_valid, bool axil_b_valid, bool axil_r_valid) {
        Vhotline_top* t = top_.get();
        uint32_t p[kMaxPayloadWords];
        int n;
        if (rule_ar_.needs_payload(ar_valid, memory.arready)) {
            n = pack(p, t->m_axi___05Faraddr, t->m_axi___05Farid, t->m_axi___05Farlen, t->m_axi___05Farsize,
                     t->m_axi___05Farburst);
            observe(rule_ar_, edge, ar_valid, memory.arready, p, n);
        }
        if (rule_aw_.needs_payload(aw_valid, memory.awready)) {
            n = pack(p, t->m_axi___05Fawaddr, t->m_axi___05Fawid, t->m_axi___05Fawlen, t->m_axi___05Fawsize,
                     t->m_axi___05Fawburst);
            observe(rule_aw_, edge, aw_valid, memory.awready, p, n);
        }
        if (rule_w_.needs_payload(w_valid, memory.wready)) {
            n = pack(p, t->m_axi___05Fwdata, t->m_axi___05Fwstrb, t->m_axi___05Fwlast);
            observe(rule_w_, edge, w_valid, memory.wready, p, n);
        }
        const bool mb_ready = t->m_axis_micro_batches___05Ftready;
        if (rule_mb_.needs_payload(mb_valid, mb_ready)) {
            n = pack(p, t->m_axis_micro_batches___05Ftdata, t->m_axis_micro_batches___05Ftlast);
            observe(rule_mb_, edge, mb_valid, mb_ready, p, n);
        }
        const bool rows_ready = t->m_axis_rows___05Ftready;
        if (rule_rows_.needs_payload(rows_valid, rows_ready)) {
            n = pack(p, t->m_axis_rows___05Ftdata, t->m_axis_rows___05Ftuser, t->m_axis_rows___05Ftlast);
            observe(rule_rows_, edge, rows_valid, rows_ready, p, n);
        }
        const bool b_ready = t->s_axil___05Fbready, r_ready = t->s_axil___05Frready;
        if (rule_axil_b_.needs_payload(axil_b_valid, b_ready)) {
            n = pack(p, t->s_axil___05Fbresp);
            observe(rule_axil_b_, edge, axil_b_valid, b_ready, p, n);
        }
        if (rule_axil_r_.needs_payload(axil_r_valid, r_ready)) {
            n = pack(p, t->s_axil___05Frdata, t->s_axil___05Frresp);
            observe(rule_axil_r_, edge, axil_r_valid, r_ready, p, n);
        }
    }

    void observe(HandshakeRule& rule, uint64_t edge, bool valid, bool ready, const uint32_t* p,
                 int n) {
        std::string violation;
        if (!rule.observe(edge, valid, ready, p, n, violation)) protocol_error(violation);
    }

    template <class... T>
    static int pack(uint32_t* out, const T&... ports) {
        int n = 0;
        ((to_words(ports, out + n), n += PortWords<T>::value), ...);
        return n;
    }

    void check_burst(const char* port, uint64_t edge, uint64_t address, unsigned len,
                     unsigned size, unsigned burst) {
        const std::string violation = burst_violation(port, edge, address, len, size, burst, kBusBytes);
        if (!violation.empty()) protocol_error(violation);
    }

    std::string axil_response_error(const char* channel, uint64_t edge) const {
        char text[256];
        std::snprintf(text, sizeof text,
                      "s_axil %s: response with no request outstanding (an ID not "
                      "outstanding), cycle %llu", channel, static_cast<unsigned long long>(edge));
        return text;
    }

    void protocol_error(const std::string& text) {
        if (error_.empty() || !sticky_) error_ = "AXI protocol violation: " + text;
        sticky_ = true;
    }

    void idle_inputs() {
        Vhotline_top* t = top_.get();
        lookup_valid_ = write_back_valid_ = false;
        t->s_axis_lookups___05Ftvalid = 0;
        t->s_axis_write_back___05Ftvalid = 0;
        t->m_axi___05Frvalid = 0;
        t->m_axi___05Fbvalid = 0;
        idle_axil();
    }

    void idle_axil() {
        Vhotline_top* t = top_.get();
        t->s_axil___05Fawvalid = t->s_axil___05Fwvalid = t->s_axil___05Farvalid = 0;
        t->s_axil___05Fbready = t->s_axil___05Frready = 0;
    }

    void drive_axil() {
        Vhotline_top* t = top_.get();
        t->s_axil___05Fawvalid = axil_.aw_pending;
        t->s_axil___05Fwvalid = axil_.w_pending;
        t->s_axil___05Farvalid = axil_.ar_pending;
        t->s_axil___05Fawaddr = axil_.address;
        t->s_axil___05Faraddr = axil_.address;
        t->s_axil___05Fawprot = t->s_axil___05Farprot = 0;
        t->s_axil___05Fwdata = axil_.data;
        t->s_axil___05Fwstrb = axil_.strb;
        t->s_axil___05Fbready = axil_.active && axil_.write && !axil_.done;
        t->s_axil___05Frready = axil_.active && !axil_.write && !axil_.done;
    }

    template <class Valid, class Data, class User, class Last>
    void drive_source(StreamSource& source, bool& valid, Valid& v, Data& d, User& u, Last& l) {
        if (!valid && !source.empty() && !rng_.chance(input_gap_)) {
            from_words(d, source.data());
            u = static_cast<User>(source.user());
            l = source.last();
            source.pop();
            valid = true;
        }
        v = valid;
    }

    void drive() {
        Vhotline_top* t = top_.get();
        drive_source(lookups_, lookup_valid_, t->s_axis_lookups___05Ftvalid, t->s_axis_lookups___05Ftdata,
                     t->s_axis_lookups___05Ftuser, t->s_axis_lookups___05Ftlast);
        drive_source(write_backs_, write_back_valid_, t->s_axis_write_back___05Ftvalid,
                     t->s_axis_write_back___05Ftdata, t->s_axis_write_back___05Ftuser,
                     t->s_axis_write_back___05Ftlast);
        t->m_axis_micro_batches___05Ftready = !rng_.chance(output_stall_);
        t->m_axis_rows___05Ftready = !rng_.chance(output_stall_);
        memory.drive(cycle_);
        t->m_axi___05Farready = memory.arready;
        t->m_axi___05Fawready = memory.awready;
        t->m_axi___05Fwready = memory.wready;
        t->m_axi___05Frvalid = memory.rvalid;
        if (memory.rvalid) {
            from_bytes(t->m_axi___05Frdata, memory.rdata, kBusBytes);
            t->m_axi___05Frid = memory.rid;
            t->m_axi___05Frresp = memory.rresp;
            t->m_axi___05Frlast = memory.rlast;
        }
        t->m_axi___05Fbvalid = memory.bvalid;
        if (memory.bvalid) {
            t->m_axi___05Fbid = memory.bid;
            t->m_axi___05Fbresp = memory.bresp;
        }
        if (axil_.active) drive_axil();
    }

    static constexpr unsigned kBusBytes = HOTLINE_BUS_BYTES;

    Knobs knobs_;
    std::unique_ptr<VerilatedContext> context_;
    std::unique_ptr<Vhotline_top> top_;
#ifdef HOTLINE_WAVES
    std::unique_ptr<VerilatedFstC> waves_;
    uint64_t wave_start_ = 0, wave_stop_ = 0;
#endif
    uint64_t cycle_ = 0, last_progress_ = 0;
    Rng rng_;
    uint32_t input_gap_ = 0, output_stall_ = 0;
    StreamSource lookups_, write_backs_;
    StreamSink micro_batches_, rows_;
    bool lookup_valid_ = false, write_back_valid_ = false;
    AxilOp axil_;
    std::string error_;
    bool sticky_ = false;   // a protocol violation: the device is no longer trusted
    HandshakeRule rule_ar_{"m_axi AR"}, rule_aw_{"m_axi AW"}, rule_w_{"m_axi W"},
        rule_mb_{"m_axis_micro_batches"}, rule_rows_{"m_axis_rows"}, rule_axil_b_{"s_axil B"},
        rule_axil_r_{"s_axil R"};
};

}  // namespace hotline
