// The `npu` dialect: the AI core's work as operations on memrefs in its memory spaces, between the
// graph dialect and the assembly (the AscendNPU-IR HIVM pattern). Kernels are `func.func`s whose
// arguments are GM memrefs; scalar control flow is `scf` and `arith` on `index`; on-chip buffers
// are `npu.alloc`s; DMA, vector and sync ops name the pipe they run on. Passes then plan the
// buffers' offsets (fractal-npu-plan-memory), add set/wait flags from the memory dependences
// between pipes (fractal-npu-inject-sync), and the emitter (Codegen/NpuToAsm.cpp) writes
// Fractal assembly.
#ifndef FRACTAL_NPU_OPS
#define FRACTAL_NPU_OPS

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Npu_Dialect : Dialect {
  let name = "npu";
  let cppNamespace = "::fractal::npu";
  let summary = "AI-core buffers, DMA, vector and sync operations";
  let description = [{
    Memory spaces are `#npu.space<gm|l1|l0a|l0b|l0c|ub>` on memref types. Every op that moves
    or computes data runs on one pipe (docs/isa.md): `npu.dma` on mte2 (GM -> UB/L1) or mte3
    (UB -> GM), `npu.vector` on v. Pipes are ordered only by `npu.set_flag`/`npu.wait_flag`
    and `npu.barrier`, which fractal-npu-inject-sync places.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class Npu_Op<string mnemonic, list<Trait> traits = []> : Op<Npu_Dialect, mnemonic, traits>;

def Npu_Space : I32EnumAttr<"Space", "an AI-core memory space", [
    I32EnumAttrCase<"gm", 0>, I32EnumAttrCase<"l1", 1>, I32EnumAttrCase<"l0a", 2>,
    I32EnumAttrCase<"l0b", 3>, I32EnumAttrCase<"l0c", 4>, I32EnumAttrCase<"ub", 5>]> {
  let cppNamespace = "::fractal::npu";
  let genSpecializedAttr = 0;
}
// The memory space of a memref: memref<256xf32, #npu.space<ub>>.
def Npu_SpaceAttr : EnumAttr<Npu_Dialect, Npu_Space, "space"> {
  let assemblyFormat = "`<` $value `>`";
}

// Pipe numbers follow the ISA (and HIVM); `all` only for barriers.
def Npu_Pipe : I32EnumAttr<"Pipe", "an AI-core pipe", [
    I32EnumAttrCase<"s", 0>, I32EnumAttrCase<"v", 1>, I32EnumAttrCase<"m", 2>,
    I32EnumAttrCase<"mte1", 3>, I32EnumAttrCase<"mte2", 4>, I32EnumAttrCase<"mte3", 5>,
    I32EnumAttrCase<"all", 6>, I32EnumAttrCase<"fix", 10>]> {
  let cppNamespace = "::fractal::npu";
}

def Npu_EventId : ConfinedAttr<I64Attr, [IntMinValue<0>, IntMaxValue<7>]>;

//===--- launch ------------------------------------------------------------------------------===//

def Npu_BlockIdxOp : Npu_Op<"block_idx", [Pure]> {
  let summary = "this block's index among the kernel's block_dim blocks";
  let results = (outs Index:$result);
  let assemblyFormat = "attr-dict";
}

def Npu_BlockDimOp : Npu_Op<"block_dim", [Pure]> {
  let summary = "the number of blocks the kernel was launched with";
  let results = (outs Index:$result);
  let assemblyFormat = "attr-dict";
}

def Npu_KernelDataOp : Npu_Op<"kernel_data", [Pure]> {
  let summary = "a constant of the kernel's own data section, in GM";
  let description = [{
    `%eye = npu.kernel_data "identity16" : memref<256xf16, #npu.space<gm>>`: the values the
    kernel function's `npu.data` dictionary holds under that name (a dense f16 or f32 array),
    which the emitter writes into the kernel binary's data section; the kernel reads them by DMA
    like any GM tensor. For small constants a kernel needs beside its arguments (a residual's
    identity matrix).
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyStaticShapeMemRef:$data);
  let assemblyFormat = "$name attr-dict `:` type($data)";
  let hasVerifier = 1;
}

//===--- buffers and data movement -----------------------------------------------------------===//

def Npu_AllocOp : Npu_Op<"alloc", [MemoryEffects<[MemAlloc]>]> {
  let summary = "an on-chip buffer for the whole kernel";
  let description = [{
    A statically shaped buffer in a core-local space (not GM). `offset` (bytes from the start
    of the space) is set by fractal-npu-plan-memory; the emitter needs it.
  }];
  let arguments = (ins OptionalAttr<I64Attr>:$offset);
  let results = (outs AnyStaticShapeMemRef:$buffer);
  let assemblyFormat = "attr-dict `:` type($buffer)";
  let hasVerifier = 1;
  let extraClassDeclaration = "int64_t getSizeInBytes();";
}

def Npu_ViewOp : Npu_Op<"view", [Pure]> {
  let summary = "the part of a buffer that starts at an element offset";
  let description = [{
    `%v = npu.view %buf[%offset] : memref<NxT, S> -> memref<MxT, S>`: the M elements of `buf`
    from element `offset` on (a tile of a larger buffer, or of a GM argument), as an operand for
    instructions that take whole buffers. Same space and element type; a constant offset must
    keep the view inside the buffer. Sync and memory planning see a view as its buffer.
  }];
  let arguments = (ins AnyStaticShapeMemRef:$source, Index:$offset);
  let results = (outs AnyStaticShapeMemRef:$result);
  let assemblyFormat = "$source `[` $offset `]` attr-dict `:` type($source) `->` type($result)";
  let hasVerifier = 1;
}

def Npu_DmaOp : Npu_Op<"dma"> {
  let summary = "copy contiguous elements between memory spaces on an MTE pipe";
  let description = [{
    Copies `elements` elements from `source[sourceOffset]` to `target[targetOffset]` (element
    offsets). GM -> UB and GM -> L1 run on mte2, UB -> GM on mte3. The copy must be whole
    32-byte blocks.
  }];
  let arguments = (ins Arg<AnyStaticShapeMemRef, "", [MemRead]>:$source, Index:$sourceOffset,
                       Arg<AnyStaticShapeMemRef, "", [MemWrite]>:$target, Index:$targetOffset,
                       ConfinedAttr<I64Attr, [IntPositive]>:$elements);
  let assemblyFormat = [{
    $source `[` $sourceOffset `]` `->` $target `[` $targetOffset `]` `,` $elements attr-dict
    `:` type($source) `->` type($target)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = "Pipe getPipe();";
}

def Npu_VectorOp : Npu_Op<"vector", [DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "one vector instruction on UB buffers";
  let description = [{
    `instruction` is a vector mnemonic of the ISA with its type suffix (`vadd.f32`,
    `vconv.f32.f16`). Operands in the instruction's order: UB memrefs (the first is written, the
    others read) and scalars (integer or float values, passed as their bit pattern). `repeat`
    repeats of 256 bytes; `params` the instruction's keyed operands (strides).
  }];
  let arguments = (ins StrAttr:$instruction, Variadic<AnyType>:$operands,
                       ConfinedAttr<I64Attr, [IntMinValue<0>, IntMaxValue<255>]>:$repeat,
                       OptionalAttr<DictionaryAttr>:$params);
  let assemblyFormat = [{
    $instruction $operands `repeat` $repeat (`params` $params^)? attr-dict `:` type($operands)
  }];
  let hasVerifier = 1;
}

// The other pipes' instructions, one op per unit: the mnemonic and its keyed operands come from
// the ISA table (checked by the verifier), the positional operands are buffers (memrefs of the
// spaces the instruction allows) and scalars. The operand the ISA calls `dst` is written, the
// other buffers read. Keyed register operands (mmad's `bias`: an L1 address; fixp's `scale`)
// follow the positional ones, named in order by `named`; a buffer there passes its address.
class Npu_InstructionOp<string mnemonic, string unit, string pipes> : Npu_Op<mnemonic,
    [DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "one " # unit # " instruction";
  // Effects and verifier shared by every instruction op (NpuDialect.cpp, namespace detail).
  let extraClassDefinition = [{
    void $cppClass::getEffects(
        ::llvm::SmallVectorImpl<::mlir::SideEffects::EffectInstance<::mlir::MemoryEffects::Effect>> &effects) {
      detail::instructionEffects(*this, effects);
    }
    ::mlir::LogicalResult $cppClass::verify() {
      return detail::verifyInstruction(*this, getInstruction(), getOperands(), getParams(), }] # pipes # [{,
                                       "}] # unit # [{", false, getNamed());
    }
  }];
  let arguments = (ins StrAttr:$instruction, Variadic<AnyType>:$operands,
                       OptionalAttr<StrArrayAttr>:$named, OptionalAttr<DictionaryAttr>:$params);
  let assemblyFormat = [{
    $instruction $operands (`named` $named^)? (`params` $params^)? attr-dict `:` type($operands)
  }];
  let hasVerifier = 1;
}

def Npu_CopyOp : Npu_InstructionOp<"copy", "DMA", "{fractal::isa::Pipe::MTE2, fractal::isa::Pipe::MTE3}"> {
  let description = [{
    A DMA instruction with layout or stride parameters, e.g. `gm2l1_nz.f16` (a row-major GM
    matrix into NZ fractals in L1). Plain contiguous copies are `npu.dma`.
  }];
}

def Npu_LoadOp : Npu_InstructionOp<"load", "mte1 load", "{fractal::isa::Pipe::MTE1}"> {
  let description = [{
    `load2d` (fractals, optionally transposed) or `load3d.f16` (img2col from NC1HWC0 slices
    in L1, with the feature map set by `npu.set_fmap`; its output-pixel operand is a scalar).
  }];
}

def Npu_CubeOp : Npu_InstructionOp<"cube", "cube", "{fractal::isa::Pipe::M}"> {
  let description = [{
    `mmad.f16` / `mmad.s8`: C (L0C) = (init ? 0 : C) + A (L0A, ZZ) x B (L0B, ZN), params
    `m`, `k`, `n`, `init`.
  }];
}

def Npu_FixpipeOp : Npu_InstructionOp<"fixpipe", "FixPipe", "{fractal::isa::Pipe::FIX}"> {
  let description = [{
    `fixp.FROM.TO`: accumulators from L0C to GM, UB or L1, with ReLU and conversion (params
    `m`, `n`, `src_rows`, `dst_stride`, `relu`, `nz2nd`).
  }];
}

def Npu_SetMaskOp : Npu_Op<"set_mask"> {
  let summary = "set the vector lane mask (scalar unit, captured by each later vector op)";
  let description = [{
    Bit i of `hi`:`lo` enables lane i of every repeat; all ones is the default.
  }];
  let arguments = (ins I64:$hi, I64:$lo);
  let assemblyFormat = "$hi `,` $lo attr-dict";
}

def Npu_SetFmapOp : Npu_Op<"set_fmap"> {
  let summary = "set the load3d feature-map register (scalar unit, captured by each load3d)";
  let arguments = (ins AnySignlessIntegerOrIndex:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

//===--- synchronisation ---------------------------------------------------------------------===//

def Npu_SetFlagOp : Npu_Op<"set_flag"> {
  let summary = "on pipe `from`, once its earlier work is done: set flag (from, to, event)";
  let arguments = (ins Npu_Pipe:$from, Npu_Pipe:$to, Npu_EventId:$event);
  let assemblyFormat = "$from `->` $to `,` $event attr-dict";
  let hasVerifier = 1;
}

def Npu_WaitFlagOp : Npu_Op<"wait_flag"> {
  let summary = "block pipe `to` until flag (from, to, event) is set, then clear it";
  let arguments = (ins Npu_Pipe:$from, Npu_Pipe:$to, Npu_EventId:$event);
  let assemblyFormat = "$from `->` $to `,` $event attr-dict";
  let hasVerifier = 1;
}

def Npu_BarrierOp : Npu_Op<"barrier"> {
  let summary = "pipe_barrier: later work of `pipe` waits for its earlier work (all: every pipe)";
  let arguments = (ins Npu_Pipe:$pipe);
  let assemblyFormat = "$pipe attr-dict";
}

#endif // FRACTAL_NPU_OPS
