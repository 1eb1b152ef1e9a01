// hwprune RTL kernels of residual blocks and global pooling: stream fork, add, standalone
// thresholds (requantization), global accumulating pool.
//
// Element types (parameters *T): 0 unsigned, 1 signed (two's complement), 2 bipolar (1 bit,
// 1 = +1). Each kernel follows the loop of its HLS twin in hls_templates/hwp_kernels.hpp.j2
// (duplicate, add_streams, thresholding, global_acc_pool): one iteration per enabled cycle,
// `iter` high when one issues, `done` with the last iteration of a frame, outputs registered.

// Stream fork of a residual block (FINN's DuplicateStreams): each of N words of W bits goes to
// both outputs (out: the first consumer in stream order, out1: the second). A word is taken
// when both output registers are free. N iterations per frame.
module hwp_dup #(
    parameter W = 8,
    parameter N = 1
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_valid,
    output wire         in_ready,
    input  wire [W-1:0] in_data,
    output reg          out_valid,
    input  wire         out_ready,
    output reg [W-1:0]  out_data,
    output reg          out1_valid,
    input  wire         out1_ready,
    output reg [W-1:0]  out1_data,
    output wire         iter,
    output wire         done
);
    reg [23:0] i;
    wire en = (!out_valid || out_ready) && (!out1_valid || out1_ready);
    assign iter = en && in_valid;
    assign in_ready = en;
    assign done = iter && (i == N - 1);
    always @(posedge clk) begin
        if (iter) begin
            out_data <= in_data;
            out1_data <= in_data;
        end
    end
    always @(posedge clk) begin
        if (rst) begin
            i <= 0;
            out_valid <= 1'b0;
            out1_valid <= 1'b0;
        end else if (iter) begin
            out_valid <= 1'b1;
            out1_valid <= 1'b1;
            i <= (i == N - 1) ? 24'd0 : i + 1'b1;
        end else begin
            if (out_ready) out_valid <= 1'b0;
            if (out1_ready) out1_valid <= 1'b0;
        end
    end
endmodule

// Elementwise add of a residual block's two branches (FINN's AddStreams): PE elements a word,
// in (long branch, IB0/IT0) and in1 (short branch, IB1/IT1), output a * P + b * Q in OB bits
// (P = Q = 1 at one scale; unequal scales: the lowering's positive integer multipliers,
// built from shifted adds). A word pair is taken when both are valid. N iterations per frame.
module hwp_add #(
    parameter N = 1, parameter PE = 1,
    parameter IB0 = 8, parameter IT0 = 1, parameter IB1 = 8, parameter IT1 = 1,
    parameter OB = 9, parameter P = 1, parameter Q = 1
) (
    input  wire             clk,
    input  wire             rst,
    input  wire             in_valid,
    output wire             in_ready,
    input  wire [PE*IB0-1:0] in_data,
    input  wire             in1_valid,
    output wire             in1_ready,
    input  wire [PE*IB1-1:0] in1_data,
    output reg              out_valid,
    input  wire             out_ready,
    output reg [PE*OB-1:0]  out_data,
    output wire             iter,
    output wire             done
);
    reg [23:0] i;
    wire en = !out_valid || out_ready;
    assign iter = en && in_valid && in1_valid;
    assign in_ready = en && in1_valid;
    assign in1_ready = en && in_valid;
    assign done = iter && (i == N - 1);
    localparam MB = $clog2(((P > Q) ? P : Q) + 1);  // bits of the larger multiplier
    wire [PE*OB-1:0] sum;
    genvar p, k;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            wire [IB0-1:0] ra = in_data[p*IB0 +: IB0];
            wire [IB1-1:0] rb = in1_data[p*IB1 +: IB1];
            wire signed [IB0:0] a = (IT0 == 2) ? (ra[0] ? 1 : -1)
                                  : (IT0 == 1) ? $signed({ra[IB0-1], ra})
                                  : $signed({1'b0, ra});
            wire signed [IB1:0] b = (IT1 == 2) ? (rb[0] ? 1 : -1)
                                  : (IT1 == 1) ? $signed({rb[IB1-1], rb})
                                  : $signed({1'b0, rb});
            // the low OB bits are exact (arithmetic modulo 2^(OB+1)); constant products as
            // shifted adds of the set bits of P and Q (LUTs, never a DSP slice)
            wire signed [OB:0] ae = a, be = b;
            wire signed [OB:0] s;
            if (P == 1 && Q == 1) begin : g_add
                assign s = ae + be;
            end else begin : g_muladd
                wire signed [(MB+1)*(OB+1)-1:0] t;  // t[k]: partial sum of bits < k
                assign t[OB:0] = {(OB+1){1'b0}};
                for (k = 0; k < MB; k = k + 1) begin : g_bit
                    wire signed [OB:0] tp = t[k*(OB+1) +: OB+1];
                    wire signed [OB:0] pa = ((P >> k) & 1) ? (ae <<< k) : {(OB+1){1'b0}};
                    wire signed [OB:0] qb = ((Q >> k) & 1) ? (be <<< k) : {(OB+1){1'b0}};
                    assign t[(k+1)*(OB+1) +: OB+1] = tp + pa + qb;
                end
                assign s = t[MB*(OB+1) +: OB+1];
            end
            assign sum[p*OB +: OB] = s[OB-1:0];
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            i <= 0;
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= iter;
            if (iter) begin
                out_data <= sum;
                i <= (i == N - 1) ? 24'd0 : i + 1'b1;
            end
        end
    end
endmodule

// Standalone multi-threshold activation (FINN's Thresholding): C channels, PE a word, NVEC
// pixels; channel nf * PE + p's output = #{t: x >= T[t]} + OBIAS (bipolar: the bit level > 0).
// x is the element's value in AW = IB + 1 signed bits; thresholds are clipped by the generator
// to -2^(AW-1) .. 2^(AW-1) (TB = AW + 1 bits), which changes no comparison.
// TMODE = 0: all NT comparisons of a row in parallel, registered, counted by a pipelined
// popcount (TFILE.hex: NF words of PE * NT thresholds). TMODE = 1: a pipelined binary search
// over the sorted row padded to 2^NB - 1 entries, one ROM read and one comparison per stage
// and PE (TFILE_<stage>_<pe>.hex, stage s holding NF * 2^s entries), as hwp_mvau's g_bin.
// NVEC * C / PE iterations per frame.
module hwp_thresh #(
    parameter C = 1, parameter PE = 1, parameter NVEC = 1, parameter IB = 8, parameter IT = 0,
    parameter NT = 1, parameter TMODE = 0, parameter NB = 1, parameter TB = 10,
    parameter OB = 8, parameter OT = 0, parameter OBIAS = 0, parameter TFILE = "t"
) (
    input  wire             clk,
    input  wire             rst,
    input  wire             in_valid,
    output wire             in_ready,
    input  wire [PE*IB-1:0] in_data,
    output reg              out_valid,
    input  wire             out_ready,
    output reg [PE*OB-1:0]  out_data,
    output wire             iter,
    output wire             done
);
    localparam NF = C / PE;
    localparam AW = IB + 1;
    localparam LB = $clog2(NT + 1) + 1;          // level width
    localparam PLAT = (NT < 2) ? 0 : $clog2(NT);  // popcount tree levels (TMODE 0)
    localparam TWW = PE * NT * TB;
    wire en = !out_valid || out_ready;
    reg [23:0] v, nf;
    assign iter = en && in_valid;
    assign in_ready = en;
    assign done = iter && (nf == NF - 1) && (v == NVEC - 1);
    // ---------------------------------------------------------------- issue: decoded inputs
    wire [PE*AW-1:0] xd;
    genvar p, i, s;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_dec
            wire [IB-1:0] r = in_data[p*IB +: IB];
            wire signed [AW-1:0] x = (IT == 2) ? (r[0] ? 1 : -1)
                                   : (IT == 1) ? $signed({r[IB-1], r})
                                   : $signed({1'b0, r});
            assign xd[p*AW +: AW] = x;
        end
    endgenerate
    reg [PE*AW-1:0] x1;
    reg [23:0] nf1;
    reg v1;
    always @(posedge clk) begin
        if (en) begin
            x1 <= xd;
            nf1 <= nf;
        end
    end
    always @(posedge clk) begin
        if (rst) begin
            v <= 0;
            nf <= 0;
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= iter;
            if (iter) begin
                if (nf == NF - 1) begin
                    nf <= 0;
                    v <= (v == NVEC - 1) ? 24'd0 : v + 1'b1;
                end else begin
                    nf <= nf + 1'b1;
                end
            end
        end
    end
    // ---------------------------------------------------------------- levels
    wire [PE*LB-1:0] level;
    wire vlevel;
    generate
        if (TMODE == 0) begin : g_par
            reg [TWW-1:0] trom [0:NF-1];
            initial $readmemh({TFILE, ".hex"}, trom);
            reg [TWW-1:0] tw;  // the row block's thresholds, read with the issue
            always @(posedge clk) if (en) tw <= trom[nf];
            reg [PE*NT-1:0] ge;
            reg vg;
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                for (i = 0; i < NT; i = i + 1) begin : g_cmp
                    always @(posedge clk)
                        if (en) ge[p*NT+i] <= $signed({x1[p*AW+AW-1], x1[p*AW +: AW]})
                                              >= $signed(tw[(p*NT+i)*TB +: TB]);
                end
                wire [NT*LB-1:0] bits;
                for (i = 0; i < NT; i = i + 1) begin : g_bit
                    assign bits[i*LB +: LB] = {{(LB-1){1'b0}}, ge[p*NT+i]};
                end
                hwp_addtree #(.N(NT), .W(LB)) u_cnt (
                    .clk(clk), .en(en), .in_data(bits), .out_data(level[p*LB +: LB]));
            end
            always @(posedge clk) begin
                if (rst) vg <= 1'b0;
                else if (en) vg <= v1;
            end
            if (PLAT == 0) begin : g_nodly
                assign vlevel = vg;
            end else begin : g_dly
                reg [PLAT:0] vsh;  // vsh[k]: vg delayed k + 1 (top bit unused)
                always @(posedge clk) begin
                    if (rst) vsh <= 0;
                    else if (en) vsh <= {vsh[PLAT-1:0], vg};
                end
                assign vlevel = vsh[PLAT-1];
            end
        end else begin : g_bin
            // stage s decides bit NB-1-s of the level in two cycles: read, then compare
            reg [NB*PE*AW-1:0] sx, rx;
            reg [NB*PE*LB-1:0] sidx, ridx;
            reg [NB*24-1:0] snf;
            reg [2*NB:0] sv;  // sv[k]: v1 delayed k + 1 (top bit unused)
            always @(posedge clk) begin
                if (rst) sv <= 0;
                else if (en) sv <= {sv[2*NB-1:0], v1};
            end
            for (s = 0; s < NB; s = s + 1) begin : g_st
                wire [PE*AW-1:0] xin = (s == 0) ? x1 : sx[(s-1)*PE*AW +: PE*AW];
                wire [PE*LB-1:0] iin = (s == 0) ? {PE*LB{1'b0}} : sidx[(s-1)*PE*LB +: PE*LB];
                wire [23:0] nin = (s == 0) ? nf1 : snf[(s-1)*24 +: 24];
                reg [23:0] rnf;
                always @(posedge clk) if (en) begin
                    rx[s*PE*AW +: PE*AW] <= xin;
                    ridx[s*PE*LB +: PE*LB] <= iin;
                    sx[s*PE*AW +: PE*AW] <= rx[s*PE*AW +: PE*AW];
                    rnf <= nin;
                    snf[s*24 +: 24] <= rnf;
                end
                for (p = 0; p < PE; p = p + 1) begin : g_pe
                    localparam [7:0] S1 = 48 + s / 10, S0 = 48 + s % 10;
                    localparam [7:0] P1 = 48 + p / 10, P0 = 48 + p % 10;
                    localparam [8*6-1:0] SUFFIX = {"_", S1, S0, "_", P1, P0};
                    reg [TB-1:0] rom [0:NF*(1 << s)-1];
                    initial $readmemh({TFILE, SUFFIX, ".hex"}, rom);
                    wire [LB-1:0] idx = iin[p*LB +: LB];
                    reg [TB-1:0] t;
                    always @(posedge clk) if (en) t <= rom[nin * (1 << s) + (idx >> (NB - s))];
                    wire [LB-1:0] ri = ridx[(s*PE+p)*LB +: LB];
                    wire [AW-1:0] rv = rx[(s*PE+p)*AW +: AW];
                    wire pass = $signed({rv[AW-1], rv}) >= $signed(t);
                    always @(posedge clk) if (en)
                        sidx[(s*PE+p)*LB +: LB] <= pass ? ri + (1 << (NB - 1 - s)) : ri;
                end
            end
            assign level = sidx[(NB-1)*PE*LB +: PE*LB];
            assign vlevel = sv[2*NB-1];
        end
    endgenerate
    // ---------------------------------------------------------------- output register
    wire [PE*OB-1:0] res;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_enc
            wire [LB-1:0] lv = level[p*LB +: LB];
            wire signed [31:0] val = $signed({1'b0, lv}) + OBIAS;
            assign res[p*OB +: OB] = (OT == 2) ? ((lv != 0) ? 1 : 0) : val[OB-1:0];
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= vlevel;
            if (vlevel) out_data <= res;
        end
    end
endmodule

// Global average pooling as an integer sum (FINN's GlobalAccPool): HW pixels of C channels, PE
// a word, summed per channel in AW bits (a memory of C / PE words), then shifted right by SHIFT
// (RND = 1: rounded half to even, as Brevitas' truncation; else floor) and clipped to
// [OMIN, OMAX]. (HW + 1) * C / PE iterations per frame: HW passes accumulating, one writing the
// sums out (one register between the sum and the rounding).
module hwp_gap #(
    parameter HW = 4, parameter C = 1, parameter PE = 1, parameter IB = 8, parameter IT = 0,
    parameter AW = 17, parameter SHIFT = 0, parameter RND = 1,
    parameter OMIN = 0, parameter OMAX = 255, parameter OB = 8, parameter OT = 0
) (
    input  wire             clk,
    input  wire             rst,
    input  wire             in_valid,
    output wire             in_ready,
    input  wire [PE*IB-1:0] in_data,
    output reg              out_valid,
    input  wire             out_ready,
    output reg [PE*OB-1:0]  out_data,
    output wire             iter,
    output wire             done
);
    localparam NF = C / PE;
    wire en = !out_valid || out_ready;
    reg [23:0] px, nf;
    wire rd = (px != HW);  // an accumulating pass (else: the output pass)
    assign iter = en && (!rd || in_valid);
    assign in_ready = en && rd;
    assign done = iter && !rd && (nf == NF - 1);
    reg [PE*AW-1:0] acc [0:NF-1];
    wire [PE*AW-1:0] cur = acc[nf];
    wire [PE*AW-1:0] nxt;
    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_sum
            wire [IB-1:0] r = in_data[p*IB +: IB];
            wire signed [AW-1:0] x = (IT == 2) ? (r[0] ? 1 : -1)
                                   : (IT == 1) ? $signed({r[IB-1], r})
                                   : $signed({1'b0, r});
            assign nxt[p*AW +: AW] = ((px == 0) ? {AW{1'b0}} : cur[p*AW +: AW]) + x;
        end
    endgenerate
    always @(posedge clk) begin
        if (en && iter && rd) acc[nf] <= nxt;
    end
    reg [PE*AW-1:0] s1;  // the sums of one channel block, on their way out
    reg v1;
    always @(posedge clk) begin
        if (rst) begin
            px <= 0;
            nf <= 0;
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= iter && !rd;
            if (iter) begin
                if (!rd) s1 <= cur;
                if (nf == NF - 1) begin
                    nf <= 0;
                    px <= (px == HW) ? 24'd0 : px + 1'b1;
                end else begin
                    nf <= nf + 1'b1;
                end
            end
        end
    end
    wire [PE*OB-1:0] res;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_out
            wire signed [AW-1:0] sm = s1[p*AW +: AW];
            wire signed [AW-1:0] q = sm >>> SHIFT;  // floor
            wire up;
            if (RND != 0 && SHIFT > 0) begin : g_rnd  // half to even
                wire [SHIFT-1:0] r = sm[SHIFT-1:0];
                wire [SHIFT-1:0] half = 1 << (SHIFT - 1);
                assign up = (r > half) || ((r == half) && q[0]);
            end else begin : g_floor
                assign up = 1'b0;
            end
            wire signed [AW:0] qr = q + $signed({1'b0, up});
            wire signed [AW:0] cl = (qr < OMIN) ? OMIN : ((qr > OMAX) ? OMAX : qr);
            assign res[p*OB +: OB] = (OT == 2) ? ((cl > 0) ? 1 : 0) : cl[OB-1:0];
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= v1;
            if (v1) out_data <= res;
        end
    end
endmodule
