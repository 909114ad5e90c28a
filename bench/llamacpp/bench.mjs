// Decode and prefill speed of GGUF files in llama.cpp's prebuilt CPU backend (npm: node-llama-cpp with
// @node-llama-cpp/linux-x64), measured the way ModelBenchmark measures our checkpoints: decode = an 8-token
// prompt then 32 greedy tokens (KV cache), prefill = one forward pass over 256 tokens; token ids are fixed,
// so no tokenizer is involved. Prints one line per file, and peak resident memory of this process.
//
//   npm install node-llama-cpp @node-llama-cpp/linux-x64      (in any directory; run from there)
//   node bench.mjs --threads 2 [--repeat 3] LABEL=FILE.gguf ...
import {getLlama} from "node-llama-cpp";

const args = process.argv.slice(2);
let threads = 1, repeat = 3;
const files = [];
for (let i = 0; i < args.length; i++) {
    if (args[i] === "--threads") threads = Number(args[++i]);
    else if (args[i] === "--repeat") repeat = Number(args[++i]);
    else files.push(args[i].split("="));
}
if (files.length === 0) {
    console.error("usage: node bench.mjs --threads N [--repeat R] LABEL=FILE.gguf ...");
    process.exit(2);
}
const PROMPT = 8, NEW_TOKENS = 32, PREFILL = 256;
const llama = await getLlama({gpu: false, build: "never"});
console.log(`llama.cpp ${llama.llamaCppRelease?.release ?? "?"}, ${threads} thread(s), build ${llama.buildType ?? "prebuilt"}`);
console.log(`${"model".padEnd(20)} ${"decode tok/s".padStart(14)} ${"prefill tok/s".padStart(16)}`);
for (const [label, file] of files) {
    const model = await llama.loadModel({modelPath: file});
    const ids = Array.from({length: PREFILL}, (_, i) => (i * 7919 + 13) % 512);
    const context = await model.createContext({contextSize: 512, batchSize: 512, threads, sequences: 1});
    const seq = context.getSequence();
    let decode = [], prefill = [];
    for (let r = 0; r < repeat + 1; r++) { // the first round warms up
        await seq.clearHistory();
        let t = performance.now();
        await seq.evaluateWithoutGeneratingNewTokens(ids);
        const p = PREFILL / ((performance.now() - t) / 1000);
        await seq.clearHistory();
        t = performance.now();
        let n = 0;
        for await (const token of seq.evaluate(ids.slice(0, PROMPT), {temperature: 0})) {
            if (++n === NEW_TOKENS) break;
        }
        const d = NEW_TOKENS / ((performance.now() - t) / 1000);
        if (r > 0) { decode.push(d); prefill.push(p); }
    }
    const mean = a => a.reduce((x, y) => x + y, 0) / a.length;
    console.log(`${label.padEnd(20)} ${mean(decode).toFixed(2).padStart(14)} ${mean(prefill).toFixed(1).padStart(16)}`);
    await context.dispose();
    await model.dispose();
}
console.log(`peak resident memory of this process: ${(process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2)} GB`);
