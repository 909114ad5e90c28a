// Writes a GGUF file that llama.cpp loads, from a checkpoint of this project: an unquantized Hugging Face
// Llama checkpoint (weights become F32) or a `wush quantize` checkpoint with MXFP4 weights and identity
// transforms (weights become GGUF MXFP4 blocks, the same codes and scales: llama.cpp has no transforms).
// For speed comparisons only: q/k rows are not permuted to llama.cpp's rope layout and Llama 3 rope
// scaling is not written, so logits differ; the work per token does not.
//
//   node export-gguf.mjs CHECKPOINT_DIR OUT.gguf
import fs from "node:fs";
import path from "node:path";

const [dir, out] = process.argv.slice(2);
if (!dir || !out) {
    console.error("usage: node export-gguf.mjs CHECKPOINT_DIR OUT.gguf");
    process.exit(2);
}
if (fs.existsSync(out)) {
    console.error(`${out} exists: choose a new file name (this script never replaces a file)`);
    process.exit(2);
}
const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
if (config.model_type !== "llama") throw new Error(`${dir}/config.json: model_type ${config.model_type}, expected llama`);

// ---- safetensors (one file or a sharded index) ----
function openSafetensors(dir) {
    const single = path.join(dir, "model.safetensors");
    const files = fs.existsSync(single) ? [single]
        : [...new Set(Object.values(JSON.parse(fs.readFileSync(path.join(dir, "model.safetensors.index.json"), "utf8")).weight_map))]
            .map(f => path.join(dir, f));
    const tensors = new Map();
    for (const file of files) {
        const fd = fs.openSync(file, "r");
        const len = Buffer.alloc(8);
        fs.readSync(fd, len, 0, 8, 0);
        const n = Number(len.readBigUInt64LE(0));
        const header = Buffer.alloc(n);
        fs.readSync(fd, header, 0, n, 8);
        for (const [name, info] of Object.entries(JSON.parse(header.toString("utf8")))) {
            if (name === "__metadata__") continue;
            tensors.set(name, {fd, file, dtype: info.dtype, shape: info.shape, start: 8 + n + info.data_offsets[0],
                bytes: info.data_offsets[1] - info.data_offsets[0]});
        }
    }
    return tensors;
}
const tensors = openSafetensors(dir);
function read(name) {
    const t = tensors.get(name);
    if (!t) throw new Error(`${dir}: no tensor ${name}`);
    const b = Buffer.alloc(t.bytes);
    fs.readSync(t.fd, b, 0, t.bytes, t.start);
    return {t, b};
}
function toF32(name) {
    const {t, b} = read(name);
    const n = t.shape.reduce((a, x) => a * x, 1);
    const f = Buffer.alloc(4 * n);
    if (t.dtype === "F32") return {shape: t.shape, data: b};
    for (let i = 0; i < n; i++) {
        if (t.dtype === "BF16") f.writeUInt32LE(b.readUInt16LE(2 * i) << 16 >>> 0, 4 * i);
        else if (t.dtype === "F16") f.writeFloatLE(halfToFloat(b.readUInt16LE(2 * i)), 4 * i);
        else throw new Error(`${name}: dtype ${t.dtype}`);
    }
    return {shape: t.shape, data: f};
}
function halfToFloat(h) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e === 0) return s * m * 2 ** -24;
    if (e === 31) return m ? NaN : s * Infinity;
    return s * (1 + m / 1024) * 2 ** (e - 15);
}

// ---- the tensors to write ----
const GGML_F32 = 0, GGML_MXFP4 = 39;
const quant = config.quantization_config;
const entries = []; // {name, dims (ne0 first), type, data}
function addF32(gguf, hf) {
    const {shape, data} = toF32(hf);
    entries.push({name: gguf, dims: [...shape].reverse(), type: GGML_F32, data});
}
function addLinear(gguf, hf) {
    if (tensors.has(hf + ".weight")) return addF32(gguf, hf + ".weight");
    if (tensors.has(hf + ".transform")) throw new Error(`${hf}: has a WUSH/random transform; llama.cpp runs identity (or Hadamard-free) MXFP4 only`);
    const {t: qt, b: q} = read(hf + ".qweight");     // (out, p/2), element 2k in the low nibble
    const {t: st, b: s} = read(hf + ".scales");      // (out, p/32) E8M0 codes
    const [out, half] = qt.shape;
    const p = half * 2, groups = p / 32;
    if (st.dtype !== "U8" || st.shape[1] !== groups) throw new Error(`${hf}: not MXFP4 (scales ${st.dtype} ${st.shape})`);
    const data = Buffer.alloc(out * groups * 17);      // block_mxfp4: e, qs[16] with elements j (low) and j + 16 (high)
    for (let o = 0; o < out; o++) {
        for (let g = 0; g < groups; g++) {
            const blk = (o * groups + g) * 17;
            data[blk] = s[o * groups + g];
            const src = o * half + g * 16;
            for (let i = 0; i < 16; i++) {
                const lo = (q[src + (i >> 1)] >> (4 * (i & 1))) & 15;
                const j = i + 16;
                const hi = (q[src + (j >> 1)] >> (4 * (j & 1))) & 15;
                data[blk + 1 + i] = lo | (hi << 4);
            }
        }
    }
    entries.push({name: gguf, dims: [p, out], type: GGML_MXFP4, data});
}
addF32("token_embd.weight", "model.embed_tokens.weight");
addF32("output_norm.weight", "model.norm.weight");
if (!config.tie_word_embeddings) addLinear("output.weight", "lm_head");
const names = {attn_q: "self_attn.q_proj", attn_k: "self_attn.k_proj", attn_v: "self_attn.v_proj", attn_output: "self_attn.o_proj",
    ffn_gate: "mlp.gate_proj", ffn_up: "mlp.up_proj", ffn_down: "mlp.down_proj"};
for (let i = 0; i < config.num_hidden_layers; i++) {
    addF32(`blk.${i}.attn_norm.weight`, `model.layers.${i}.input_layernorm.weight`);
    addF32(`blk.${i}.ffn_norm.weight`, `model.layers.${i}.post_attention_layernorm.weight`);
    for (const [g, h] of Object.entries(names)) addLinear(`blk.${i}.${g}.weight`, `model.layers.${i}.${h}`);
}

// ---- metadata: the hyper-parameters and a vocabulary of the model's size ----
const vocab = config.vocab_size, bos = config.bos_token_id, eos = [].concat(config.eos_token_id)[0];
const tokens = [], types = [];
for (let id = 0; id < vocab; id++) {
    if (id === bos) { tokens.push("<s>"); types.push(3); }
    else if (id === eos) { tokens.push("</s>"); types.push(3); }
    else if (id === 0) { tokens.push("<unk>"); types.push(2); }
    else if (id <= 256) { tokens.push(`<0x${(id - 1).toString(16).toUpperCase().padStart(2, "0")}>`); types.push(6); }
    else { tokens.push(`\u2581t${id}`); types.push(1); }
}
const headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
const kv = [
    ["general.architecture", "string", "llama"],
    ["general.name", "string", path.basename(path.resolve(dir))],
    ["llama.context_length", "u32", Math.min(config.max_position_embeddings, 131072)],
    ["llama.embedding_length", "u32", config.hidden_size],
    ["llama.block_count", "u32", config.num_hidden_layers],
    ["llama.feed_forward_length", "u32", config.intermediate_size],
    ["llama.attention.head_count", "u32", config.num_attention_heads],
    ["llama.attention.head_count_kv", "u32", config.num_key_value_heads],
    ["llama.rope.dimension_count", "u32", headDim],
    ["llama.rope.freq_base", "f32", config.rope_theta],
    ["llama.attention.layer_norm_rms_epsilon", "f32", config.rms_norm_eps],
    ["llama.vocab_size", "u32", vocab],
    ["tokenizer.ggml.model", "string", "llama"],
    ["tokenizer.ggml.tokens", "string[]", tokens],
    ["tokenizer.ggml.scores", "f32[]", tokens.map(() => 0)],
    ["tokenizer.ggml.token_type", "i32[]", types],
    ["tokenizer.ggml.bos_token_id", "u32", bos],
    ["tokenizer.ggml.eos_token_id", "u32", eos],
    ["tokenizer.ggml.unknown_token_id", "u32", 0],
    ["tokenizer.ggml.add_bos_token", "bool", false],
];

// ---- GGUF v3 ----
const parts = [];
const u32 = v => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const i32 = v => { const b = Buffer.alloc(4); b.writeInt32LE(v); return b; };
const u64 = v => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
const f32 = v => { const b = Buffer.alloc(4); b.writeFloatLE(v); return b; };
const str = s => { const b = Buffer.from(s, "utf8"); return Buffer.concat([u64(b.length), b]); };
const T = {u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9};
parts.push(Buffer.from("GGUF", "ascii"), u32(3), u64(entries.length), u64(kv.length));
for (const [key, type, value] of kv) {
    parts.push(str(key));
    if (type.endsWith("[]")) {
        const el = type.slice(0, -2);
        parts.push(u32(T.array), u32(T[el]), u64(value.length));
        for (const v of value) parts.push(el === "string" ? str(v) : el === "f32" ? f32(v) : el === "i32" ? i32(v) : u32(v));
    } else {
        parts.push(u32(T[type]));
        parts.push(type === "string" ? str(value) : type === "f32" ? f32(value) : type === "bool" ? Buffer.from([value ? 1 : 0])
            : type === "i32" ? i32(value) : u32(value));
    }
}
const ALIGN = 32;
let offset = 0;
for (const e of entries) {
    e.offset = offset;
    parts.push(str(e.name), u32(e.dims.length), ...e.dims.map(u64), u32(e.type), u64(offset));
    offset += Math.ceil(e.data.length / ALIGN) * ALIGN;
}
const tmp = out + ".tmp";
const fd = fs.openSync(tmp, "w");
let written = 0;
for (const p of parts) written += fs.writeSync(fd, p);
written += fs.writeSync(fd, Buffer.alloc((ALIGN - written % ALIGN) % ALIGN));
for (const e of entries) {
    fs.writeSync(fd, e.data);
    fs.writeSync(fd, Buffer.alloc(Math.ceil(e.data.length / ALIGN) * ALIGN - e.data.length));
}
fs.closeSync(fd);
fs.renameSync(tmp, out);
console.log(`${out}: ${entries.length} tensors, ${(fs.statSync(out).size / 1e9).toFixed(2)} GB`);
