//go:build !purego

#include "textflag.h"

// The 4×8 micro-kernel of AddOuter and of the Cholesky trailing update:
//
//	C[i][j] ±= Σ_{r<k} x[r·ldx+i] · y[r·ldy+j],   0 ≤ i < 4, 0 ≤ j < 8,
//
// with the 32 entries of C held in eight YMM accumulators (two per row) and one
// fused multiply-add per four products. Strides are in float64 elements.

#define LOADC \
	MOVQ DX, R11 \
	VMOVUPD (R11), Y0 \
	VMOVUPD 32(R11), Y1 \
	ADDQ R10, R11 \
	VMOVUPD (R11), Y2 \
	VMOVUPD 32(R11), Y3 \
	ADDQ R10, R11 \
	VMOVUPD (R11), Y4 \
	VMOVUPD 32(R11), Y5 \
	ADDQ R10, R11 \
	VMOVUPD (R11), Y6 \
	VMOVUPD 32(R11), Y7

#define STOREC \
	MOVQ DX, R11 \
	VMOVUPD Y0, (R11) \
	VMOVUPD Y1, 32(R11) \
	ADDQ R10, R11 \
	VMOVUPD Y2, (R11) \
	VMOVUPD Y3, 32(R11) \
	ADDQ R10, R11 \
	VMOVUPD Y4, (R11) \
	VMOVUPD Y5, 32(R11) \
	ADDQ R10, R11 \
	VMOVUPD Y6, (R11) \
	VMOVUPD Y7, 32(R11)

#define ARGS \
	MOVQ k+0(FP), CX \
	MOVQ x+8(FP), DI \
	MOVQ ldx+16(FP), R8 \
	MOVQ y+24(FP), SI \
	MOVQ ldy+32(FP), R9 \
	MOVQ c+40(FP), DX \
	MOVQ ldc+48(FP), R10 \
	SHLQ $3, R8 \
	SHLQ $3, R9 \
	SHLQ $3, R10

// func kernAdd4x8(k int, x *float64, ldx int, y *float64, ldy int, c *float64, ldc int)
TEXT ·kernAdd4x8(SB), NOSPLIT, $0-56
	ARGS
	LOADC
	TESTQ CX, CX
	JLE   adddone

addloop:
	VMOVUPD      (SI), Y8
	VMOVUPD      32(SI), Y9
	VBROADCASTSD (DI), Y10
	VBROADCASTSD 8(DI), Y11
	VFMADD231PD  Y8, Y10, Y0
	VFMADD231PD  Y9, Y10, Y1
	VBROADCASTSD 16(DI), Y12
	VFMADD231PD  Y8, Y11, Y2
	VFMADD231PD  Y9, Y11, Y3
	VBROADCASTSD 24(DI), Y13
	VFMADD231PD  Y8, Y12, Y4
	VFMADD231PD  Y9, Y12, Y5
	VFMADD231PD  Y8, Y13, Y6
	VFMADD231PD  Y9, Y13, Y7
	ADDQ         R8, DI
	ADDQ         R9, SI
	DECQ         CX
	JNZ          addloop

adddone:
	STOREC
	VZEROUPPER
	RET

// func kernSub4x8(k int, x *float64, ldx int, y *float64, ldy int, c *float64, ldc int)
TEXT ·kernSub4x8(SB), NOSPLIT, $0-56
	ARGS
	LOADC
	TESTQ CX, CX
	JLE   subdone

subloop:
	VMOVUPD      (SI), Y8
	VMOVUPD      32(SI), Y9
	VBROADCASTSD (DI), Y10
	VBROADCASTSD 8(DI), Y11
	VFNMADD231PD Y8, Y10, Y0
	VFNMADD231PD Y9, Y10, Y1
	VBROADCASTSD 16(DI), Y12
	VFNMADD231PD Y8, Y11, Y2
	VFNMADD231PD Y9, Y11, Y3
	VBROADCASTSD 24(DI), Y13
	VFNMADD231PD Y8, Y12, Y4
	VFNMADD231PD Y9, Y12, Y5
	VFNMADD231PD Y8, Y13, Y6
	VFNMADD231PD Y9, Y13, Y7
	ADDQ         R8, DI
	ADDQ         R9, SI
	DECQ         CX
	JNZ          subloop

subdone:
	STOREC
	VZEROUPPER
	RET
