// hwprune RTL: USB-UART host link of open-toolchain boards (8N1, DIV clocks per bit).
//
// hwp_uart_bridge turns the byte stream of a UART into the accelerator's input words and its
// output words back into bytes. Wire format, both directions: every element as EB bytes,
// little-endian two's complement (a bipolar element: 1 for +1, 0 for -1); a frame's input
// elements in stream order, then the result (a label: one element). The host sends one frame
// and reads its result before sending the next.

module hwp_uart_rx #(parameter DIV = 16) (
    input  wire       clk,
    input  wire       rst,
    input  wire       rxd,
    output reg        valid,
    output reg [7:0]  data
);
    reg [1:0] sync;
    reg [15:0] cnt;
    reg [3:0] bitn;
    reg busy;
    reg [7:0] sh;
    always @(posedge clk) begin
        sync <= {sync[0], rxd};
        valid <= 1'b0;
        if (rst) begin
            busy <= 1'b0;
            sync <= 2'b11;
        end else if (!busy) begin
            if (!sync[1]) begin  // start bit: sample in the middle of each bit from here
                busy <= 1'b1;
                cnt <= DIV / 2;
                bitn <= 0;
            end
        end else if (cnt != 0) begin
            cnt <= cnt - 1'b1;
        end else begin
            cnt <= DIV - 1;
            bitn <= bitn + 1'b1;
            if (bitn == 0) begin
                if (sync[1]) busy <= 1'b0;  // a glitch, not a start bit
            end else if (bitn <= 8) begin
                sh <= {sync[1], sh[7:1]};
            end else begin  // stop bit
                busy <= 1'b0;
                if (sync[1]) begin
                    valid <= 1'b1;
                    data <= sh;
                end
            end
        end
    end
endmodule

module hwp_uart_tx #(parameter DIV = 16) (
    input  wire       clk,
    input  wire       rst,
    input  wire       valid,
    output wire       ready,
    input  wire [7:0] data,
    output reg        txd
);
    reg [15:0] cnt;
    reg [3:0] bitn;
    reg [9:0] sh;
    reg busy;
    assign ready = !busy;
    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            txd <= 1'b1;
        end else if (!busy) begin
            txd <= 1'b1;
            if (valid) begin
                busy <= 1'b1;
                sh <= {1'b1, data, 1'b0};
                cnt <= 0;
                bitn <= 0;
            end
        end else if (cnt != 0) begin
            cnt <= cnt - 1'b1;
        end else begin
            cnt <= DIV - 1;
            txd <= sh[0];
            sh <= {1'b1, sh[9:1]};
            bitn <= bitn + 1'b1;
            if (bitn == 10) begin
                busy <= 1'b0;
                txd <= 1'b1;
            end
        end
    end
endmodule

// Bytes <-> words: IE elements of IB bits per input word (IEB bytes each), OE elements of OB
// bits per output word (OEB bytes each, sign-extended when OS = 1).
module hwp_uart_bridge #(
    parameter DIV = 16,
    parameter IE = 1, parameter IB = 8, parameter IEB = 1,
    parameter OE = 1, parameter OB = 8, parameter OEB = 1, parameter OS = 0
) (
    input  wire           clk,
    input  wire           rst,
    input  wire           rxd,
    output wire           txd,
    output reg            in_valid,
    input  wire           in_ready,
    output reg [IE*IB-1:0] in_data,
    input  wire           out_valid,
    output wire           out_ready,
    input  wire [OE*OB-1:0] out_data
);
    wire rx_v;
    wire [7:0] rx_d;
    hwp_uart_rx #(.DIV(DIV)) u_rx (.clk(clk), .rst(rst), .rxd(rxd), .valid(rx_v), .data(rx_d));
    // receive: element bytes (little-endian) into an element, elements into a word
    reg [15:0] ib, ie;
    reg [8*IEB+7:0] el;  // the element's bytes arrive at the top and move down
    wire [8*IEB+7:0] el_next = {rx_d, el[8*IEB+7:8]};
    always @(posedge clk) begin
        if (rst) begin
            ib <= 0;
            ie <= 0;
            in_valid <= 1'b0;
        end else begin
            if (in_valid && in_ready) in_valid <= 1'b0;
            if (rx_v) begin
                el <= el_next;
                if (ib == IEB - 1) begin
                    ib <= 0;
                    in_data[ie*IB +: IB] <= el_next[8 +: IB];
                    if (ie == IE - 1) begin
                        ie <= 0;
                        in_valid <= 1'b1;
                    end else begin
                        ie <= ie + 1'b1;
                    end
                end else begin
                    ib <= ib + 1'b1;
                end
            end
        end
    end
    // send: a word's elements, each as OEB bytes (sign-extended)
    reg [OE*OB-1:0] ow;
    reg busy;
    reg [15:0] ob, oe;
    assign out_ready = !busy;
    wire [OB-1:0] cur = ow[oe*OB +: OB];
    wire [8*OEB+OB-1:0] ext = OS ? {{(8*OEB){cur[OB-1]}}, cur} : {{(8*OEB){1'b0}}, cur};
    wire tx_ready;
    wire tx_valid = busy;
    wire [7:0] tx_data = ext[ob*8 +: 8];
    hwp_uart_tx #(.DIV(DIV)) u_tx (.clk(clk), .rst(rst), .valid(tx_valid), .ready(tx_ready),
                                   .data(tx_data), .txd(txd));
    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            ob <= 0;
            oe <= 0;
        end else if (!busy) begin
            if (out_valid) begin
                busy <= 1'b1;
                ow <= out_data;
                ob <= 0;
                oe <= 0;
            end
        end else if (tx_ready) begin
            if (ob == OEB - 1) begin
                ob <= 0;
                if (oe == OE - 1) busy <= 1'b0;
                else oe <= oe + 1'b1;
            end else begin
                ob <= ob + 1'b1;
            end
        end
    end
endmodule
