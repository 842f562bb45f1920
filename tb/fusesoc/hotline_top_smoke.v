// Smoke test of the packaged IP (FuseSoC target `sim`): reset hotline_top, then over AXI4-Lite
// read ID and VERSION, write and read back BATCH_SIZE, and check that an unmapped address
// answers SLVERR. Register offsets come from the generated rtl/hotline_regs.vh. Prints
// "SMOKE PASS" or "SMOKE FAIL: <what>" and finishes; a watchdog ends a hung run as a failure.
// Plain Verilog-2005 (Icarus -g2005, Verilator --binary).
`timescale 1ns / 1ps
`include "hotline_regs.vh"

module hotline_top_smoke;
    reg clk = 1'b0;
    reg rst = 1'b1;
    always #5 clk = ~clk;

    reg  [11:0] awaddr = 12'd0;
    reg         awvalid = 1'b0;
    wire        awready;
    reg  [31:0] wdata = 32'd0;
    reg         wvalid = 1'b0;
    wire        wready;
    wire [1:0]  bresp;
    wire        bvalid;
    reg  [11:0] araddr = 12'd0;
    reg         arvalid = 1'b0;
    wire        arready;
    wire [31:0] rdata;
    wire [1:0]  rresp;
    wire        rvalid;

    hotline_top dut (
        .clk(clk), .rst(rst),
        .s_axil__awaddr(awaddr), .s_axil__awprot(3'd0), .s_axil__awvalid(awvalid),
        .s_axil__awready(awready), .s_axil__wdata(wdata), .s_axil__wstrb(4'hF),
        .s_axil__wvalid(wvalid), .s_axil__wready(wready), .s_axil__bresp(bresp),
        .s_axil__bvalid(bvalid), .s_axil__bready(1'b1),
        .s_axil__araddr(araddr), .s_axil__arprot(3'd0), .s_axil__arvalid(arvalid),
        .s_axil__arready(arready), .s_axil__rdata(rdata), .s_axil__rresp(rresp),
        .s_axil__rvalid(rvalid), .s_axil__rready(1'b1),
        .s_axis_lookups__tdata(128'd0), .s_axis_lookups__tlast(1'b0),
        .s_axis_lookups__tvalid(1'b0), .s_axis_lookups__tuser(33'd0),
        .m_axis_micro_batches__tready(1'b1), .m_axis_rows__tready(1'b1),
        .s_axis_write_back__tdata(128'd0), .s_axis_write_back__tlast(1'b0),
        .s_axis_write_back__tvalid(1'b0), .s_axis_write_back__tuser(29'd0),
        .m_axi__awready(1'b0), .m_axi__wready(1'b0), .m_axi__bid(6'd0), .m_axi__bresp(2'd0),
        .m_axi__bvalid(1'b0), .m_axi__arready(1'b0), .m_axi__rid(6'd0), .m_axi__rdata(128'd0),
        .m_axi__rresp(2'd0), .m_axi__rlast(1'b0), .m_axi__rvalid(1'b0)
    );

    reg failed = 1'b0;
    reg [31:0] value;
    reg [1:0]  resp;

    task axil_read(input [11:0] address);
        begin
            @(negedge clk); araddr = address; arvalid = 1'b1;
            @(posedge clk); while (!arready) @(posedge clk);
            @(negedge clk); arvalid = 1'b0;
            while (!rvalid) @(negedge clk);
            value = rdata; resp = rresp;
        end
    endtask

    task axil_write(input [11:0] address, input [31:0] data);
        begin
            @(negedge clk); awaddr = address; awvalid = 1'b1; wdata = data; wvalid = 1'b1;
            @(posedge clk); while (!(awready && wready)) @(posedge clk);
            @(negedge clk); awvalid = 1'b0; wvalid = 1'b0;
            while (!bvalid) @(negedge clk);
            resp = bresp;
        end
    endtask

    task check(input [31:0] got, input [31:0] want, input [8*24-1:0] what);
        if (got !== want) begin
            $display("SMOKE FAIL: %0s = %h, expected %h", what, got, want);
            failed = 1'b1;
        end
    endtask

    initial begin
        #100000 $display("SMOKE FAIL: watchdog (no AXI4-Lite response)");
        $finish;
    end

    initial begin
        repeat (4) @(posedge clk);
        @(negedge clk); rst = 1'b0;
        axil_read(`HOTLINE_ID_OFFSET);
        check(value, `HOTLINE_ID_CONSTANT, "ID");
        check(resp, 2'd0, "ID response");
        axil_read(`HOTLINE_VERSION_OFFSET);
        check((value & `HOTLINE_VERSION_MAJOR_MASK) >> `HOTLINE_VERSION_MAJOR_LSB,
               `HOTLINE_VERSION_MAJOR, "VERSION.major");
        check((value & `HOTLINE_VERSION_MINOR_MASK) >> `HOTLINE_VERSION_MINOR_LSB,
               `HOTLINE_VERSION_MINOR, "VERSION.minor");
        axil_read(`HOTLINE_BATCH_SIZE_OFFSET);
        check(value, `HOTLINE_BATCH_SIZE_RESET, "BATCH_SIZE reset");
        axil_write(`HOTLINE_BATCH_SIZE_OFFSET, 32'd1234);
        check(resp, 2'd0, "BATCH_SIZE write response");
        axil_read(`HOTLINE_BATCH_SIZE_OFFSET);
        check(value, 32'd1234, "BATCH_SIZE");
        axil_read(12'hFFC);
        check(resp, 2'd2, "unmapped read response");
        if (!failed) $display("SMOKE PASS");
        $finish;
    end
endmodule
