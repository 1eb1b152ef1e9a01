// hwprune RTL kernels: stream plumbing (FIFO, width converter, adder tree).
//
// Plain Verilog-2005, accepted by Yosys and Verilator. Every stream is a valid/ready pair
// with a data word of N elements of B bits (element i at bits [i*B, (i+1)*B)); a word moves
// when valid and ready are both high. Every kernel has an `iter` output that is high in each
// cycle in which its loop issues one iteration (the HLS kernel's pipelined loop, II = 1), so
// a testbench counts the cycles per frame that the cost model prices, and a `done` output
// that is high with the last iteration of a frame (so that frames are counted apart).

// First-word-fall-through FIFO. in_ready and out_valid come from registers, so a FIFO between
// two kernels cuts every combinational valid/ready path between them.
module hwp_fifo #(
    parameter W = 8,
    parameter DEPTH = 2
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_valid,
    output wire         in_ready,
    input  wire [W-1:0] in_data,
    output wire         out_valid,
    input  wire         out_ready,
    output wire [W-1:0] out_data
);
    localparam AB = (DEPTH <= 2) ? 1 : $clog2(DEPTH);
    reg [W-1:0] mem [0:DEPTH-1];
    reg [AB-1:0] rp, wp;
    reg [AB:0] count;
    wire push = in_valid && in_ready;
    wire pop = out_valid && out_ready;
    assign in_ready = (count != DEPTH);
    assign out_valid = (count != 0);
    assign out_data = mem[rp];
    always @(posedge clk) begin
        if (push) mem[wp] <= in_data;
    end
    always @(posedge clk) begin
        if (rst) begin
            rp <= 0;
            wp <= 0;
            count <= 0;
        end else begin
            if (push) wp <= (wp == DEPTH - 1) ? {AB{1'b0}} : wp + 1'b1;
            if (pop) rp <= (rp == DEPTH - 1) ? {AB{1'b0}} : rp + 1'b1;
            count <= count + (push ? 1'b1 : 1'b0) - (pop ? 1'b1 : 1'b0);
        end
    end
endmodule

// Width converter: TOTAL elements of B bits per frame, from words of IN elements to words of
// OUT elements (the HLS width_adapt): with OUT = k * IN it gathers k words per cycle-iteration
// and writes on the k-th; with IN = k * OUT it reads on the first of k iterations and writes
// one slice in each; otherwise it reads L / IN words, then writes L / OUT (L = lcm(IN, OUT)).
module hwp_dwc #(
    parameter IN = 1,
    parameter OUT = 1,
    parameter L = 1,
    parameter B = 8,
    parameter G = 1
) (
    input  wire            clk,
    input  wire            rst,
    input  wire            in_valid,
    output wire            in_ready,
    input  wire [IN*B-1:0] in_data,
    output reg             out_valid,
    input  wire            out_ready,
    output reg [OUT*B-1:0] out_data,
    output wire            iter,
    output wire            done
);
    localparam GATHER = (OUT % IN == 0);
    localparam SPLIT = (!GATHER) && (IN % OUT == 0);
    localparam NR = L / IN;
    localparam NW = L / OUT;
    localparam CB = $clog2(NR + NW + 1) + 1;
    reg [L*B-1:0] buf_q;
    reg [CB-1:0] i;  // iteration within a group of L elements
    reg [23:0] grp;  // group within the frame (G groups of L elements per frame)
    wire en = !out_valid || out_ready;
    wire rd = GATHER ? 1'b1 : (SPLIT ? (i == 0) : (i < NR));
    wire wr = GATHER ? (i == NR - 1) : (SPLIT ? 1'b1 : (i >= NR));
    wire last = GATHER ? (i == NR - 1) : (SPLIT ? (i == NW - 1) : (i == NR + NW - 1));
    assign iter = en && (!rd || in_valid);
    assign in_ready = en && rd;
    assign done = iter && last && (grp == G - 1);
    // the buffer with this iteration's input word in place
    wire [L*B-1:0] cur;
    genvar g;
    generate
        if (GATHER || !SPLIT) begin : g_gather
            for (g = 0; g < NR; g = g + 1) begin : g_slot
                assign cur[g*IN*B +: IN*B] = (rd && i == g) ? in_data : buf_q[g*IN*B +: IN*B];
            end
        end else begin : g_split
            assign cur = (i == 0) ? in_data : buf_q;
        end
    endgenerate
    wire [CB-1:0] wi = GATHER ? 0 : (SPLIT ? i : i - NR);
    always @(posedge clk) begin
        if (rst) begin
            i <= 0;
            grp <= 0;
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= iter && wr;
            if (iter) begin
                buf_q <= cur;
                out_data <= cur[wi*OUT*B +: OUT*B];
                i <= last ? {CB{1'b0}} : i + 1'b1;
                if (last) grp <= (grp == G - 1) ? 24'd0 : grp + 1'b1;
            end
        end
    end
endmodule

// Pipelined adder tree: N signed W-bit terms in, their sum out after LAT = clog2(N) enabled
// cycles (one register per level; N = 1 passes through with LAT = 0).
module hwp_addtree #(
    parameter N = 2,
    parameter W = 16
) (
    input  wire           clk,
    input  wire           en,
    input  wire [N*W-1:0] in_data,
    output wire [W-1:0]   out_data
);
    localparam LAT = (N <= 1) ? 0 : $clog2(N);
    // level l holds size(l) = ceil(N / 2^l) terms at offset off(l) of one flat vector
    function integer size;
        input integer l;
        size = (N + (1 << l) - 1) >> l;
    endfunction
    function integer off;
        input integer l;
        integer k;
        begin
            off = 0;
            for (k = 0; k < l; k = k + 1) off = off + size(k);
        end
    endfunction
    localparam TOT = off(LAT + 1);
    wire [TOT*W-1:0] t;
    assign t[N*W-1:0] = in_data;
    genvar l, j;
    generate
        for (l = 1; l <= LAT; l = l + 1) begin : g_lvl
            for (j = 0; j < size(l); j = j + 1) begin : g_add
                reg [W-1:0] s;
                if (2 * j + 1 < size(l - 1)) begin : g_two
                    always @(posedge clk)
                        if (en) s <= t[(off(l-1)+2*j)*W +: W] + t[(off(l-1)+2*j+1)*W +: W];
                end else begin : g_one
                    always @(posedge clk)
                        if (en) s <= t[(off(l-1)+2*j)*W +: W];
                end
                assign t[(off(l)+j)*W +: W] = s;
            end
        end
    endgenerate
    assign out_data = t[off(LAT)*W +: W];
endmodule
