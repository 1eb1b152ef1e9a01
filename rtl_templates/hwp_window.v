// hwprune RTL kernels: padding, sliding window, max-pool, label select.
//
// Element types (parameters *T): 0 unsigned, 1 signed (two's complement), 2 bipolar (1 bit,
// 1 = +1). Each kernel follows the loop of its HLS twin in hls_templates/hwp_kernels.hpp.j2:
// one iteration per enabled cycle, `iter` high when one issues, the output word registered.

// Zero padding of P pixels around an (H, W, C) map, SIMD channels per word, re-encoding every
// element from IB/IT to OB/OT (a bipolar map becomes signed so that the padding can hold 0).
// (H + 2P) * (W + 2P) * C / SIMD iterations per frame.
module hwp_pad #(
    parameter H = 4, parameter W = 4, parameter C = 1, parameter SIMD = 1, parameter P = 1,
    parameter IB = 8, parameter IT = 0, parameter OB = 8, parameter OT = 0
) (
    input  wire               clk,
    input  wire               rst,
    input  wire               in_valid,
    output wire               in_ready,
    input  wire [SIMD*IB-1:0] in_data,
    output reg                out_valid,
    input  wire               out_ready,
    output reg [SIMD*OB-1:0]  out_data,
    output wire               iter,
    output wire               done
);
    localparam CF = C / SIMD;
    reg [15:0] y, x, cf;
    wire en = !out_valid || out_ready;
    wire in_map = (y >= P) && (y < H + P) && (x >= P) && (x < W + P);
    assign iter = en && (!in_map || in_valid);
    assign in_ready = en && in_map;
    assign done = iter && (y == H + 2 * P - 1) && (x == W + 2 * P - 1) && (cf == CF - 1);
    wire [SIMD*OB-1:0] enc;
    genvar s;
    generate
        for (s = 0; s < SIMD; s = s + 1) begin : g_el
            wire [IB-1:0] raw = in_data[s*IB +: IB];
            wire signed [IB:0] v = (IT == 2) ? (raw[0] ? 1 : -1)
                                 : (IT == 1) ? $signed({raw[IB-1], raw})
                                 : $signed({1'b0, raw});
            wire signed [IB:0] vi = in_map ? v : 0;
            if (OT == 2) begin : g_bip
                assign enc[s*OB +: OB] = (vi > 0) ? 1 : 0;
            end else if (OB <= IB + 1) begin : g_narrow
                assign enc[s*OB +: OB] = vi[OB-1:0];
            end else begin : g_wide
                assign enc[s*OB +: OB] = {{(OB - IB - 1){vi[IB]}}, vi};
            end
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            y <= 0;
            x <= 0;
            cf <= 0;
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= iter;
            if (iter) begin
                out_data <= enc;
                if (cf == CF - 1) begin
                    cf <= 0;
                    if (x == W + 2 * P - 1) begin
                        x <= 0;
                        y <= (y == H + 2 * P - 1) ? 16'd0 : y + 1'b1;
                    end else begin
                        x <= x + 1'b1;
                    end
                end else begin
                    cf <= cf + 1'b1;
                end
            end
        end
    end
endmodule

// Sliding-window generator (FINN's RTL SWG schedule, as the HLS sliding_window): a circular
// buffer of K + S rows of IW * C / SIMD words; the first ((K - 1) * IW + K) * CF words are read,
// then for each output row max(OW * K * K * CF, S * IW * CF) iterations each emit one window
// word (while any remain) and read one input word (while any remain). DW = 1 orders the window
// words (channel fold, kernel row, kernel column) for a depthwise VVAU or a pool, on FINN's
// estimated depthwise schedule (as the HLS kernel): OW * (S - 1) * (CF - 1) idle iterations more
// per output row and a frame tail of (S - 1) * IW * CF (reading any input a stride left).
module hwp_swg #(
    parameter IH = 4, parameter IW = 4, parameter C = 1, parameter SIMD = 1,
    parameter K = 3, parameter S = 1, parameter B = 8, parameter DW = 0
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              in_valid,
    output wire              in_ready,
    input  wire [SIMD*B-1:0] in_data,
    output reg               out_valid,
    input  wire              out_ready,
    output reg [SIMD*B-1:0]  out_data,
    output wire              iter,
    output wire              done
);
    localparam CF = C / SIMD;
    localparam OH = (IH - K) / S + 1;
    localparam OW = (IW - K) / S + 1;
    localparam ROWS = K + S;
    localparam ROWW = IW * CF;
    localparam DEPTH = ROWS * ROWW;
    localparam BUF = ((K - 1) * IW + K) * CF;
    localparam EMIT = OW * K * K * CF;
    localparam READ = S * IW * CF;
    localparam STALL = DW ? OW * (S - 1) * (CF - 1) : 0;
    localparam ITER = ((EMIT > READ) ? EMIT : READ) + STALL;
    localparam TAIL = DW ? (S - 1) * IW * CF : 0;
    localparam TOTAL = IH * IW * CF;
    localparam AB = $clog2(DEPTH + 1);
    (* ram_style = "block" *) reg [SIMD*B-1:0] mem [0:DEPTH-1];
    reg        fill;        // 1: reading the first BUF words
    reg        tl;          // 1: the frame's tail (after the last output row)
    reg [23:0] i;           // iteration within the fill or within an output row
    reg [15:0] oy;
    reg [23:0] rd;          // input words read in this frame
    reg [AB-1:0] waddr;     // where the next input word goes
    reg [AB-1:0] row0;      // address of row (oy * S) % ROWS
    // window position: channel fold, kernel column / row, output column, and their addresses
    reg [15:0] cf, kx, ky, ox;
    reg [AB-1:0] kxo, oxo, kyo;  // kx * CF, ox * S * CF, ((oy * S + ky) % ROWS) * ROWW
    wire en = !out_valid || out_ready;
    // Words go out in the first EMIT iterations of a row, or in its last ones when a window
    // has fewer words than the row reads (K * K < S, a strided 1x1 window): there a window's
    // pixel would be emitted before it was read.
    localparam E0 = (K * K < S) ? ITER - EMIT : 0;
    wire emit = !fill && !tl && (i >= E0) && (i < E0 + EMIT);
    wire rdw = fill || ((tl || (i < READ)) && (rd < TOTAL));
    assign iter = en && (!rdw || in_valid);
    assign in_ready = en && rdw;
    wire [AB-1:0] raddr = kyo + oxo + kxo + cf[AB-1:0];
    wire row_end = fill ? (i == BUF - 1) : tl ? (i == TAIL - 1) : (i == ITER - 1);
    wire last = tl || (oy == OH - 1 && TAIL == 0);  // this phase ends the frame
    assign done = iter && !fill && row_end && last;
    wire [AB-1:0] kyo_next = (kyo + ROWW >= DEPTH) ? kyo + ROWW - DEPTH : kyo + ROWW;
    wire [AB-1:0] row0_next = (row0 + S * ROWW >= DEPTH) ? row0 + S * ROWW - DEPTH
                                                         : row0 + S * ROWW;
    always @(posedge clk) begin
        if (en && iter) begin
            if (rdw) mem[waddr] <= in_data;
            if (emit) out_data <= mem[raddr];
        end
    end
    always @(posedge clk) begin
        if (rst) begin
            fill <= 1'b1;
            tl <= 1'b0;
            i <= 0;
            oy <= 0;
            rd <= 0;
            waddr <= 0;
            row0 <= 0;
            cf <= 0; kx <= 0; ky <= 0; ox <= 0;
            kxo <= 0; oxo <= 0; kyo <= 0;
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= iter && emit;
            if (iter) begin
                if (rdw) begin
                    rd <= rd + 1'b1;
                    waddr <= (waddr == DEPTH - 1) ? {AB{1'b0}} : waddr + 1'b1;
                end
                if (emit) begin  // advance the window position
                    if (DW == 0) begin  // order (ox, ky, kx, cf), cf fastest
                        if (cf == CF - 1) begin
                            cf <= 0;
                            if (kx == K - 1) begin
                                kx <= 0; kxo <= 0;
                                if (ky == K - 1) begin
                                    ky <= 0; kyo <= row0;
                                    ox <= ox + 1'b1; oxo <= oxo + S * CF;
                                end else begin
                                    ky <= ky + 1'b1; kyo <= kyo_next;
                                end
                            end else begin
                                kx <= kx + 1'b1; kxo <= kxo + CF;
                            end
                        end else begin
                            cf <= cf + 1'b1;
                        end
                    end else begin  // order (ox, cf, ky, kx), kx fastest
                        if (kx == K - 1) begin
                            kx <= 0; kxo <= 0;
                            if (ky == K - 1) begin
                                ky <= 0; kyo <= row0;
                                if (cf == CF - 1) begin
                                    cf <= 0;
                                    ox <= ox + 1'b1; oxo <= oxo + S * CF;
                                end else begin
                                    cf <= cf + 1'b1;
                                end
                            end else begin
                                ky <= ky + 1'b1; kyo <= kyo_next;
                            end
                        end else begin
                            kx <= kx + 1'b1; kxo <= kxo + CF;
                        end
                    end
                end
                if (row_end) begin
                    i <= 0;
                    fill <= 1'b0;
                    cf <= 0; kx <= 0; ky <= 0; ox <= 0;
                    kxo <= 0; oxo <= 0;
                    if (!fill) begin
                        if (last) begin  // frame done: the next one starts with a fill
                            fill <= 1'b1;
                            tl <= 1'b0;
                            oy <= 0;
                            rd <= 0;
                            waddr <= 0;
                            row0 <= 0;
                            kyo <= 0;
                        end else if (oy == OH - 1) begin
                            tl <= 1'b1;
                        end else begin
                            oy <= oy + 1'b1;
                            row0 <= row0_next;
                            kyo <= row0_next;
                        end
                    end else begin
                        kyo <= row0;
                    end
                end else begin
                    i <= i + 1'b1;
                end
            end
        end
    end
endmodule

// Max pool unit (FINN's Pool, PE = C): the K x K window words of OH x OW output pixels from an
// hwp_swg (DW = 1, SIMD = C, S = K), all C channels a word, one word per iteration; each
// window's maximum is written after its last word. K * K * OH * OW iterations per frame.
module hwp_maxpool #(
    parameter OH = 2, parameter OW = 2, parameter C = 1, parameter K = 2,
    parameter B = 8, parameter T = 0
) (
    input  wire           clk,
    input  wire           rst,
    input  wire           in_valid,
    output wire           in_ready,
    input  wire [C*B-1:0] in_data,
    output reg            out_valid,
    input  wire           out_ready,
    output reg [C*B-1:0]  out_data,
    output wire           iter,
    output wire           done
);
    localparam K2 = K * K;
    localparam N = OH * OW * K2;
    reg [C*B-1:0] m;   // running maximum of the current window
    reg [15:0] pos;    // word within the window
    reg [23:0] n;      // word within the frame
    wire en = !out_valid || out_ready;
    assign iter = en && in_valid;
    assign in_ready = en;
    assign done = iter && (n == N - 1);
    wire first = (pos == 0);
    wire win_end = (pos == K2 - 1);
    wire [C*B-1:0] nm;
    genvar c;
    generate
        for (c = 0; c < C; c = c + 1) begin : g_ch
            wire [B-1:0] a = in_data[c*B +: B];
            wire [B-1:0] b = m[c*B +: B];
            wire gt = (T == 1) ? ($signed(a) > $signed(b)) : (a > b);
            assign nm[c*B +: B] = (first || gt) ? a : b;
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            pos <= 0;
            n <= 0;
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= iter && win_end;
            if (iter) begin
                m <= nm;
                out_data <= nm;
                pos <= win_end ? 16'd0 : pos + 1'b1;
                n <= (n == N - 1) ? 24'd0 : n + 1'b1;
            end
        end
    end
endmodule

// Label select: arg-max over N scores arriving PE per word (the first index wins a tie);
// N / PE iterations per frame, the label (OB bits) written after the last. A head with a
// per-class bias (OFB > 0) compares the keys (score <<< SHIFT) + offset of label i * PE + p,
// in KB + 1 signed bits; the offsets (OFB-bit signed, PE a word, word i: labels i * PE + p)
// are a ROM loaded from OFILE ($readmemh). Without (OFB = 0, KB = B): the scores themselves.
module hwp_labelsel #(
    parameter N = 10, parameter PE = 1, parameter B = 16, parameter T = 1, parameter OB = 4,
    parameter KB = B, parameter SHIFT = 0, parameter OFB = 0, parameter OFILE = "o.hex"
) (
    input  wire            clk,
    input  wire            rst,
    input  wire            in_valid,
    output wire            in_ready,
    input  wire [PE*B-1:0] in_data,
    output reg             out_valid,
    input  wire            out_ready,
    output reg [OB-1:0]    out_data,
    output wire            iter,
    output wire            done
);
    localparam NI = N / PE;
    localparam OW = (OFB > 0) ? OFB : 1;
    reg [15:0] i;
    reg signed [KB:0] best;
    reg [OB-1:0] best_i;
    wire en = !out_valid || out_ready;
    assign iter = en && in_valid;
    assign in_ready = en;
    assign done = iter && (i == NI - 1);
    wire [PE*OW-1:0] offs;
    generate
        if (OFB > 0) begin : g_offs
            reg [PE*OW-1:0] orom [0:NI-1];
            initial $readmemh(OFILE, orom);
            assign offs = orom[i];
        end else begin : g_no_offs
            assign offs = {PE*OW{1'b0}};
        end
    endgenerate
    reg signed [KB:0] nb, v;
    reg [OB-1:0] ni;
    integer p;
    always @* begin
        nb = best;
        ni = best_i;
        for (p = 0; p < PE; p = p + 1) begin
            v = (T == 2) ? (in_data[p*B] ? 1 : -1)
              : (T == 1) ? $signed({in_data[p*B+B-1], in_data[p*B +: B]})
              : $signed({1'b0, in_data[p*B +: B]});
            if (OFB > 0)
                v = (v <<< SHIFT) + $signed(offs[p*OW +: OW]);
            if ((i == 0 && p == 0) || v > nb) begin
                nb = v;
                ni = i * PE + p;
            end
        end
    end
    always @(posedge clk) begin
        if (rst) begin
            i <= 0;
            best <= 0;
            best_i <= 0;
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= iter && (i == NI - 1);
            if (iter) begin
                best <= nb;
                best_i <= ni;
                out_data <= ni;
                i <= (i == NI - 1) ? 16'd0 : i + 1'b1;
            end
        end
    end
endmodule
