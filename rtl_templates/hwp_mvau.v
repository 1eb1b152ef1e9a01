// hwprune RTL kernel: matrix-vector-activation unit (MVAU) and its depthwise twin (VVAU).
//
// FINN's micro-architecture with PE/SIMD folding, as the HLS mvau/vvau: MW x MH weights (VV:
// MH channels of MW = K*K taps), NVEC input vectors, SF = MW / SIMD words per vector, NF =
// MH / PE output words per vector, NVEC * NF * SF iterations per frame. PE p computes rows
// nf * PE + p. Weights sit in one ROM of NF * SF words, word nf * SF + sf holding SIMD weights of
// each PE (PE p at bits [p*SIMD*WB, (p+1)*SIMD*WB)), loaded from WFILE ($readmemh).
//
// Pipeline (every register advances when the output register is free, `en`):
//   issue (counters, ROM and input-buffer reads) -> products -> adder tree (one register per
//   level) -> accumulate -> thresholds -> output register.
// Products: RES = 0 builds each lane's product from LUTs (its partial products, one per weight
// bit, are terms of the adder tree: no multiplier for Yosys to map to a DSP, and pipelined
// with the tree; no product register), RES = 1 writes a multiplication (mapped to
// DSP slices: MULT18X18D on ECP5, DSP48 on Xilinx). XNOR = 1: bipolar x bipolar lanes count
// weight/input agreements (XNOR-popcount), the accumulator is the popcount.
// Thresholds (NT > 0): TMODE = 0 compares the accumulator with all NT thresholds of its row in
// parallel and counts the passes (pipelined popcount); TMODE = 1 runs a pipelined binary search
// over the sorted row (NT padded to 2^NB - 1 with never-reached values), one ROM read and one
// comparison per stage: NB comparators instead of NT (FINN's choice for 8-bit activations).
// TFILE is the prefix of the threshold ROM files: TFILE.hex (TMODE = 0: NF words of PE * NT
// thresholds of TB bits) or TFILE_<stage>_<pe>.hex (TMODE = 1, see g_bin); thresholds are
// clipped to the accumulator's range + 1 by the generator.
// Output: level + OBIAS (bipolar: the bit level > 0); with NT = 0 the accumulator (XNOR:
// 2 * popcount - MW), OB low bits.
module hwp_mvau #(
    parameter MW = 4, parameter MH = 4, parameter SIMD = 1, parameter PE = 1,
    parameter NVEC = 1, parameter IB = 8, parameter IT = 0, parameter WB = 8,
    parameter WT = 1, parameter AW = 32, parameter NT = 0, parameter TMODE = 0,
    parameter NB = 1, parameter TB = 33, parameter OB = 8, parameter OT = 0,
    parameter OBIAS = 0, parameter XNOR = 0, parameter RES = 1, parameter VV = 0,
    parameter WFILE = "w.hex", parameter TFILE = "t"
) (
    input  wire                             clk,
    input  wire                             rst,
    input  wire                             in_valid,
    output wire                             in_ready,
    input  wire [(VV ? PE : 1)*SIMD*IB-1:0] in_data,
    output reg                              out_valid,
    input  wire                             out_ready,
    output reg [PE*OB-1:0]                  out_data,
    output wire                             iter,
    output wire                             done
);
    localparam SF = MW / SIMD;
    localparam NF = MH / PE;
    localparam XW = (VV ? PE : 1) * SIMD * IB;
    localparam WW = PE * SIMD * WB;
    localparam WD = NF * SF;
    localparam TLAT = (SIMD * ((!XNOR && RES == 0) ? WB + 1 : 1) <= 1) ? 0
                    : $clog2(SIMD * ((!XNOR && RES == 0) ? WB + 1 : 1));  // adder tree levels
    localparam LB = (NT < 1) ? 1 : $clog2(NT + 1) + 1;  // level width
    localparam PLAT = (NT < 2) ? 0 : $clog2(NT);        // popcount tree levels (TMODE 0)
    localparam TWW = PE * ((NT > 0) ? NT : 1) * TB;

    wire en = !out_valid || out_ready;

    // ---------------------------------------------------------------- issue
    reg [23:0] v, nf, sf;
    reg [23:0] waddr;
    wire need_in = VV || (nf == 0);
    assign iter = en && (!need_in || in_valid);
    assign in_ready = en && need_in;
    assign done = iter && (sf == SF - 1) && (nf == NF - 1) && (v == NVEC - 1);
    reg [WW-1:0] wrom [0:WD-1];
    initial $readmemh(WFILE, wrom);
    reg [XW-1:0] inbuf [0:SF-1];
    reg [WW-1:0] w1;
    reg [XW-1:0] xin1, xbuf1;
    reg xsel1, v1, sf01, last1;
    reg [23:0] nf1;
    always @(posedge clk) begin
        if (en && iter) begin
            w1 <= wrom[waddr];
            xin1 <= in_data;
            xbuf1 <= inbuf[sf];
            if (!VV && nf == 0) inbuf[sf] <= in_data;
        end
    end
    always @(posedge clk) begin
        if (rst) begin
            v <= 0; nf <= 0; sf <= 0; waddr <= 0;
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= iter;
            xsel1 <= need_in;
            sf01 <= (sf == 0);
            last1 <= (sf == SF - 1);
            nf1 <= nf;
            if (iter) begin
                waddr <= (waddr == WD - 1) ? 24'd0 : waddr + 1'b1;
                if (sf == SF - 1) begin
                    sf <= 0;
                    if (nf == NF - 1) begin
                        nf <= 0;
                        v <= (v == NVEC - 1) ? 24'd0 : v + 1'b1;
                    end else begin
                        nf <= nf + 1'b1;
                    end
                end else begin
                    sf <= sf + 1'b1;
                end
            end
        end
    end
    wire [XW-1:0] x1 = xsel1 ? xin1 : xbuf1;

    // ---------------------------------------------------------------- products
    // LUT products (RES = 0) are not formed: each lane's WB + 1 partial products (x << b where
    // weight bit b is set; the sign bit's negated) go straight into the PE's pipelined adder
    // tree, whose registers then pipeline the multiplications too. DSP products and XNOR bits
    // are registered once and summed by the tree.
    localparam LUTPP = (!XNOR) && (RES == 0);
    localparam NPL = LUTPP ? WB + 1 : 1;  // tree terms per lane
    localparam NTM = SIMD * NPL;          // tree terms per PE
    wire [PE*NTM*AW-1:0] terms;
    genvar p, i, b, s;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            for (i = 0; i < SIMD; i = i + 1) begin : g_lane
                wire [WB-1:0] wr = w1[(p*SIMD+i)*WB +: WB];
                wire [IB-1:0] xr = x1[(VV ? (i*PE+p) : i)*IB +: IB];
                if (XNOR) begin : g_xnor
                    assign terms[(p*SIMD+i)*AW +: AW] = {{(AW-1){1'b0}}, ~(wr[0] ^ xr[0])};
                end else begin : g_mul
                    wire signed [WB:0] wv = (WT == 2) ? (wr[0] ? 1 : -1)
                                          : (WT == 1) ? $signed({wr[WB-1], wr})
                                          : $signed({1'b0, wr});
                    wire signed [IB:0] xv = (IT == 2) ? (xr[0] ? 1 : -1)
                                          : (IT == 1) ? $signed({xr[IB-1], xr})
                                          : $signed({1'b0, xr});
                    if (RES == 1) begin : g_dsp
                        wire signed [WB+IB+1:0] prod = wv * xv;
                        assign terms[(p*SIMD+i)*AW +: AW] =
                            {{(AW > WB+IB+2 ? AW-WB-IB-2 : 1){prod[WB+IB+1]}}, prod};
                    end else begin : g_lut
                        wire signed [AW-1:0] xa = xv;  // sign-extended to the accumulator
                        for (b = 0; b <= WB; b = b + 1) begin : g_bit
                            wire signed [AW-1:0] sh = xa <<< b;
                            assign terms[((p*SIMD+i)*NPL+b)*AW +: AW] =
                                !wv[b] ? {AW{1'b0}} : ((b == WB) ? -sh : sh);
                        end
                    end
                end
            end
        end
    endgenerate
    wire [PE*NTM*AW-1:0] terms2;  // what the trees add
    wire v2, sf02, last2;
    wire [23:0] nf2;
    generate
        if (LUTPP) begin : g_pp  // partial products of the stage-1 registers, unregistered
            assign terms2 = terms;
            assign {v2, sf02, last2, nf2} = {v1, sf01, last1, nf1};
        end else begin : g_preg
            reg [PE*NTM*AW-1:0] t_q;
            reg v_q, s_q, l_q;
            reg [23:0] n_q;
            always @(posedge clk) begin
                if (rst) begin
                    v_q <= 1'b0;
                end else if (en) begin
                    t_q <= terms;
                    v_q <= v1;
                    s_q <= sf01;
                    l_q <= last1;
                    n_q <= nf1;
                end
            end
            assign terms2 = t_q;
            assign {v2, sf02, last2, nf2} = {v_q, s_q, l_q, n_q};
        end
    endgenerate

    // ---------------------------------------------------------------- adder trees
    wire [PE*AW-1:0] sums;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_tree
            hwp_addtree #(.N(NTM), .W(AW)) u_tree (
                .clk(clk), .en(en), .in_data(terms2[p*NTM*AW +: NTM*AW]),
                .out_data(sums[p*AW +: AW]));
        end
    endgenerate
    // flags follow the tree: valid, first, last, nf
    wire [26:0] fl2 = {v2, sf02, last2, nf2};
    wire [26:0] fl3;
    generate
        if (TLAT == 0) begin : g_nodly
            assign fl3 = fl2;
        end else if (TLAT == 1) begin : g_dly1
            reg [26:0] sh;
            always @(posedge clk) begin
                if (rst) sh <= 0;
                else if (en) sh <= fl2;
            end
            assign fl3 = sh;
        end else begin : g_dly
            reg [TLAT*27-1:0] sh;
            always @(posedge clk) begin
                if (rst) sh <= 0;
                else if (en) sh <= {sh[(TLAT-1)*27-1:0], fl2};
            end
            assign fl3 = sh[(TLAT-1)*27 +: 27];
        end
    endgenerate
    wire v3 = fl3[26], sf03 = fl3[25], last3 = fl3[24];
    wire [23:0] nf3 = fl3[23:0];

    // ---------------------------------------------------------------- accumulate
    reg [PE*AW-1:0] acc;
    reg va;  // acc holds a finished dot product of row block nfa
    reg [23:0] nfa;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_acc
            always @(posedge clk) begin
                if (en && v3)
                    acc[p*AW +: AW] <= (sf03 ? {AW{1'b0}} : acc[p*AW +: AW]) + sums[p*AW +: AW];
            end
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            va <= 1'b0;
        end else if (en) begin
            va <= v3 && last3;
            nfa <= nf3;
        end
    end

    // ---------------------------------------------------------------- activation
    wire [PE*OB-1:0] res;   // the encoded outputs
    wire vres;              // res is valid
    generate
        if (NT == 0) begin : g_head
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire signed [AW+1:0] a = $signed(acc[p*AW +: AW]);
                wire signed [AW+1:0] dot = XNOR ? 2 * a - MW : a;
                assign res[p*OB +: OB] = dot[OB-1:0];
            end
            assign vres = va;
        end else begin : g_thr
            wire [PE*LB-1:0] level;
            wire vlevel;
            if (TMODE == 0) begin : g_par
                reg [TWW-1:0] trom [0:NF-1];
                initial $readmemh({TFILE, ".hex"}, trom);
                reg [TWW-1:0] tw;    // the row block's thresholds, read with the accumulator
                always @(posedge clk) if (en) tw <= trom[nf3];
                reg [PE*NT-1:0] ge;  // comparisons, registered
                reg vg;
                for (p = 0; p < PE; p = p + 1) begin : g_pe
                    for (i = 0; i < NT; i = i + 1) begin : g_cmp
                        always @(posedge clk)
                            if (en) ge[p*NT+i] <= $signed({acc[p*AW+AW-1], acc[p*AW +: AW]})
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
                    else if (en) vg <= va;
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
                // Stage s (s = 0 .. NB-1) decides bit j = NB-1-s of the level in two cycles:
                // read T[idx + 2^j - 1] (idx has its low j + 1 bits clear), then compare. Its
                // ROM, per PE, holds only those entries: NF * 2^s words (file TFILE_<s>_<p>).
                reg [NB*PE*AW-1:0] sacc, racc;
                reg [NB*PE*LB-1:0] sidx, ridx;
                reg [NB*24-1:0] snf;
                reg [2*NB:0] sv;  // sv[k]: va delayed k + 1 (top bit unused)
                always @(posedge clk) begin
                    if (rst) sv <= 0;
                    else if (en) sv <= {sv[2*NB-1:0], va};
                end
                for (s = 0; s < NB; s = s + 1) begin : g_st
                    wire [PE*AW-1:0] ain = (s == 0) ? acc : sacc[(s-1)*PE*AW +: PE*AW];
                    wire [PE*LB-1:0] iin = (s == 0) ? {PE*LB{1'b0}} : sidx[(s-1)*PE*LB +: PE*LB];
                    wire [23:0] nin = (s == 0) ? nfa : snf[(s-1)*24 +: 24];
                    always @(posedge clk) if (en) begin
                        racc[s*PE*AW +: PE*AW] <= ain;
                        ridx[s*PE*LB +: PE*LB] <= iin;
                        sacc[s*PE*AW +: PE*AW] <= racc[s*PE*AW +: PE*AW];
                    end
                    reg [23:0] rnf;
                    always @(posedge clk) if (en) begin
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
                        wire [AW-1:0] ra = racc[(s*PE+p)*AW +: AW];
                        wire pass = $signed({ra[AW-1], ra}) >= $signed(t);
                        always @(posedge clk) if (en)
                            sidx[(s*PE+p)*LB +: LB] <= pass ? ri + (1 << (NB - 1 - s)) : ri;
                    end
                end
                assign level = sidx[(NB-1)*PE*LB +: PE*LB];
                assign vlevel = sv[2*NB-1];
            end
            for (p = 0; p < PE; p = p + 1) begin : g_enc
                wire [LB-1:0] lv = level[p*LB +: LB];
                wire signed [31:0] val = $signed({1'b0, lv}) + OBIAS;
                assign res[p*OB +: OB] = (OT == 2) ? ((lv != 0) ? 1 : 0) : val[OB-1:0];
            end
            assign vres = vlevel;
        end
    endgenerate

    // ---------------------------------------------------------------- output register
    always @(posedge clk) begin
        if (rst) begin
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= vres;
            if (vres) out_data <= res;
        end
    end
endmodule
