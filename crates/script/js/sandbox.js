// Runs once per context after lodash and moment: adds the `crypto` subset of the Code component,
// removes what the sandbox does not offer, locks every shared object and returns the helpers the
// Rust side calls. The helpers are never reachable from user code.
(function (global, native) {
  "use strict";

  // ---- Buffer-like bytes: what `crypto.randomBytes` and `digest()` without encoding return.
  const HEX = [];
  for (let i = 0; i < 256; i++) HEX.push((i < 16 ? "0" : "") + i.toString(16));
  const toHex = (bytes) => {
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
    return s;
  };
  class Buffer extends Uint8Array {
    toString(encoding) {
      return native.encode(toHex(this), encoding === undefined ? "utf8" : String(encoding));
    }
    toJSON() {
      return { type: "Buffer", data: Array.from(this) };
    }
  }
  const fromHex = (hex) => {
    const out = new Buffer(hex.length >> 1);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  };
  const bytesOf = (data) => {
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return null;
  };

  // ---- crypto: createHash, createHmac, randomBytes, randomUUID (Node-compatible shapes).
  const ALGORITHMS = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];
  const chunk = (data, encoding) => {
    if (typeof data === "string") {
      if (encoding === "hex" || encoding === "base64" || encoding === "latin1" || encoding === "binary") {
        return native.decode(data, encoding);
      }
      return "s" + data;
    }
    const bytes = bytesOf(data);
    if (bytes === null) {
      throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView');
    }
    return "x" + toHex(bytes);
  };
  const algorithm = (name) => {
    const alg = String(name).toLowerCase().replace("-", "");
    if (!ALGORITHMS.includes(alg)) throw new Error("Digest method not supported");
    return alg;
  };
  class Hash {
    constructor(alg, key) {
      this._alg = alg;
      this._key = key;
      this._chunks = [];
      this._done = false;
    }
    update(data, encoding) {
      if (this._done) throw new Error("Digest already called");
      this._chunks.push(chunk(data, encoding));
      return this;
    }
    digest(encoding) {
      if (this._done) throw new Error("Digest already called");
      this._done = true;
      const key = this._key === null ? [] : [this._key];
      const enc = encoding === undefined || encoding === "buffer" ? "hex" : String(encoding);
      const out = native.hash(this._alg, this._key !== null, key, this._chunks, enc);
      return enc === "hex" && encoding !== "hex" ? fromHex(out) : out;
    }
  }
  const crypto = {
    createHash(alg) {
      return new Hash(algorithm(alg), null);
    },
    createHmac(alg, key) {
      return new Hash(algorithm(alg), chunk(key, undefined));
    },
    randomBytes(size) {
      const n = Number(size);
      if (!(n >= 0 && n <= 65536 && Math.floor(n) === n)) throw new RangeError('The "size" argument is out of range');
      return fromHex(native.random(n));
    },
    randomUUID() {
      return native.uuid();
    },
    getHashes() {
      return ALGORITHMS.slice();
    },
  };
  Object.defineProperty(global, "crypto", { value: crypto, writable: true, configurable: true, enumerable: false });

  // ---- No timers, no job queue, nothing that outlives an evaluation.
  for (const name of ["queueMicrotask", "FinalizationRegistry", "SharedArrayBuffer", "Atomics",
                      "setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "require"]) {
    delete global[name];
  }

  // ---- moment keeps some settings in closures that freezing cannot reach; refuse to change them.
  const moment = global.moment;
  const refuse = (name) => function () {
    throw new Error("moment." + name + " cannot change global settings in the sandbox");
  };
  const locale = moment.locale, threshold = moment.relativeTimeThreshold, rounding = moment.relativeTimeRounding;
  moment.defineLocale = refuse("defineLocale");
  moment.updateLocale = refuse("updateLocale");
  moment.locale = function (key) {
    if (arguments.length === 0 || key === undefined) return locale.call(this);
    if (key !== "en" && !(Array.isArray(key) && key.length === 1 && key[0] === "en")) {
      throw new Error("moment.locale: only the 'en' locale is available in the sandbox");
    }
    return "en";
  };
  moment.relativeTimeThreshold = function (unit, limit) {
    if (arguments.length >= 2) return refuse("relativeTimeThreshold")();
    return threshold.call(this, unit);
  };
  moment.relativeTimeRounding = function (fn) {
    if (arguments.length >= 1) return refuse("relativeTimeRounding")();
    return rounding.call(this);
  };

  // ---- Freezing. Frozen prototypes break assignments such as `err.name = "X"` or
  // `obj.toString = f` on objects that inherit them (the "override mistake"), so the commonly
  // overridden properties become accessors whose setter defines an own property instead.
  const tame = (obj, names) => {
    for (const name of names) {
      const desc = Object.getOwnPropertyDescriptor(obj, name);
      if (!desc || !("value" in desc) || !desc.writable) continue;
      const value = desc.value;
      Object.defineProperty(obj, name, {
        get() { return value; },
        set(v) {
          if (this === obj) throw new TypeError("Cannot assign to read only property '" + String(name) + "'");
          Object.defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
        },
        enumerable: desc.enumerable,
        configurable: false,
      });
    }
  };
  tame(Object.prototype, ["constructor", "toString", "toLocaleString", "valueOf", "hasOwnProperty",
                          "isPrototypeOf", "propertyIsEnumerable"]);
  tame(Function.prototype, ["constructor", "toString", "name"]);
  for (const E of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError,
                   global.InternalError, global.AggregateError].filter(Boolean)) {
    tame(E.prototype, ["constructor", "name", "message", "toString"]);
  }

  // Objects that user code can reach without going through a global property.
  const seeds = [Hash.prototype, Buffer.prototype, Buffer];
  const probe = (f) => { try { seeds.push(f()); } catch (e) { /* not offered by this engine */ } };
  probe(() => Object.getPrototypeOf(function* () {}));
  probe(() => (function* () {})());
  probe(() => Object.getPrototypeOf(async function () {}));
  probe(() => Object.getPrototypeOf(async function* () {}));
  probe(() => (async function* () {})());
  probe(() => [][Symbol.iterator]());
  probe(() => new Map()[Symbol.iterator]());
  probe(() => new Set()[Symbol.iterator]());
  probe(() => ""[Symbol.iterator]());
  probe(() => /a/g[Symbol.matchAll](""));
  probe(() => Iterator.from([1]).map((x) => x));
  probe(() => (function () { return arguments; })());
  probe(() => moment());
  probe(() => moment.duration(1));
  probe(() => moment.localeData());
  probe(() => _.chain([1]));
  probe(() => _([1]));
  probe(() => { const c = new _.memoize.Cache(); c.set("a", 1); c.set(1, 1); c.set({}, 1); return c; });
  probe(() => { let s; _.cloneDeepWith({ a: [1] }, (v, k, o, st) => { if (st) s = st; }); return s; });
  probe(() => { let s; _.isEqualWith([{}], [{}], (a, b, k, o, p, st) => { if (st) s = st; }); return s; });
  probe(() => { const big = []; for (let i = 0; i < 300; i++) big.push(i); return _.difference(big, big); });

  const harden = (roots) => {
    const seen = new Set();
    const todo = roots.slice();
    while (todo.length > 0) {
      const o = todo.pop();
      if (o === null || (typeof o !== "object" && typeof o !== "function")) continue;
      if (o === global || seen.has(o)) continue;
      seen.add(o);
      for (const key of Reflect.ownKeys(o)) {
        const desc = Reflect.getOwnPropertyDescriptor(o, key);
        if (desc === undefined) continue;
        if ("value" in desc) todo.push(desc.value);
        else todo.push(desc.get, desc.set);
      }
      todo.push(Object.getPrototypeOf(o));
      try { Object.freeze(o); } catch (e) { /* a typed array with elements cannot be frozen */ }
    }
  };

  // Every global that exists now stays what it is: later evaluations may add globals (they are
  // removed afterwards) but cannot replace `_`, `moment`, `Array`, … nor change what they hold.
  const roots = [];
  for (const key of Reflect.ownKeys(global)) {
    const desc = Reflect.getOwnPropertyDescriptor(global, key);
    if ("value" in desc) {
      roots.push(desc.value);
      Object.defineProperty(global, key, { writable: false, configurable: false });
    } else {
      roots.push(desc.get, desc.set);
      Object.defineProperty(global, key, { configurable: false });
    }
  }
  harden(roots.concat(seeds));

  const baseline = new Set(Reflect.ownKeys(global));
  const baselineSize = baseline.size;
  const stringify = JSON.stringify, parseJson = JSON.parse, isView = ArrayBuffer.isView;
  const NativePromise = Promise;

  // JSON of a result the way Node would persist it: Dates as ISO strings (their toJSON), bytes as
  // Node Buffer JSON, BigInt as a decimal string, functions and symbols dropped.
  const replacer = function (key, value) {
    if (typeof value === "bigint") return value.toString();
    if (value !== null && typeof value === "object") {
      if (value instanceof ArrayBuffer) return { type: "Buffer", data: Array.from(new Uint8Array(value)) };
      if (isView(value) && !(value instanceof DataView)) {
        if (value instanceof Uint8Array || value instanceof Uint8ClampedArray || value instanceof Int8Array) {
          return { type: "Buffer", data: Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
        }
      }
    }
    return value;
  };

  return {
    // Calls a compiled wrapper with the arguments given as JSON text and returns the result as
    // JSON text, or undefined for `undefined` (and for a lone function or symbol).
    run(fn, argsJson) {
      const args = argsJson.length === 0 ? [] : parseJson(argsJson);
      const value = fn.apply(undefined, args);
      if (value instanceof NativePromise) {
        throw new TypeError("asynchronous code is not supported: the result is a Promise");
      }
      return stringify(value, replacer);
    },
    // Removes the globals an evaluation created. False when one cannot be removed: the context
    // must then be thrown away.
    cleanup() {
      const keys = Reflect.ownKeys(global);
      if (keys.length === baselineSize) return true;
      for (const key of keys) {
        if (!baseline.has(key) && !Reflect.deleteProperty(global, key)) return false;
      }
      return true;
    },
  };
})
