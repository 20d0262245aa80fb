// Makes `Date` compute in UTC whatever the host's time zone is. Runs before lodash and moment
// load, so moment's "local" mode is UTC too. QuickJS reads the zone from the C library, which a
// library cannot change safely, so the local-time methods are pointed at their UTC twins and the
// constructor reads local-time forms as UTC.
(function (global) {
  "use strict";
  const NativeDate = global.Date;
  const proto = NativeDate.prototype;
  const hostOffset = proto.getTimezoneOffset;
  const define = (name, value) =>
    Object.defineProperty(proto, name, { value, writable: true, configurable: true, enumerable: false });

  for (const part of ["FullYear", "Month", "Date", "Day", "Hours", "Minutes", "Seconds", "Milliseconds"]) {
    define("get" + part, proto["getUTC" + part]);
    if (part !== "Day") define("set" + part, proto["setUTC" + part]);
  }
  define("getYear", function getYear() { return this.getUTCFullYear() - 1900; });
  define("getTimezoneOffset", function getTimezoneOffset() {
    const t = this.getTime();
    return t !== t ? NaN : 0;
  });

  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  const year = (y) => (y < 0 ? "-" + pad(-y, 6) : pad(y, 4));
  const valid = (d) => d.getTime() === d.getTime();
  const datePart = (d) =>
    DAYS[d.getUTCDay()] + " " + MONTHS[d.getUTCMonth()] + " " + pad(d.getUTCDate()) + " " + year(d.getUTCFullYear());
  const timePart = (d) =>
    pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) +
    " GMT+0000 (Coordinated Universal Time)";
  const localeDate = (d) => (d.getUTCMonth() + 1) + "/" + d.getUTCDate() + "/" + d.getUTCFullYear();
  const localeTime = (d) => {
    const h = d.getUTCHours();
    return ((h + 11) % 12 + 1) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + (h < 12 ? " AM" : " PM");
  };
  define("toString", function toString() { return valid(this) ? datePart(this) + " " + timePart(this) : "Invalid Date"; });
  define("toDateString", function toDateString() { return valid(this) ? datePart(this) : "Invalid Date"; });
  define("toTimeString", function toTimeString() { return valid(this) ? timePart(this) : "Invalid Date"; });
  define("toLocaleString", function toLocaleString() {
    return valid(this) ? localeDate(this) + ", " + localeTime(this) : "Invalid Date";
  });
  define("toLocaleDateString", function toLocaleDateString() { return valid(this) ? localeDate(this) : "Invalid Date"; });
  define("toLocaleTimeString", function toLocaleTimeString() { return valid(this) ? localeTime(this) : "Invalid Date"; });

  // ISO date-time without an offset is local time by the standard: read it as UTC instead.
  const LOCAL_ISO = /^\s*([+-]\d{6}|\d{4})-(\d\d)-(\d\d)[T ](\d\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*$/;
  // Date-only ISO forms are UTC by the standard already.
  const DATE_ONLY = /^\s*([+-]\d{6}|\d{4})(-\d\d(-\d\d)?)?\s*$/;
  const ZONED = /\d\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:Z|[+-]\d\d:?\d\d)|\b(?:GMT|UTC|UT|Z)\b/i;
  function parse(text) {
    const s = String(text);
    const iso = LOCAL_ISO.exec(s);
    if (iso) return NativeDate.parse(iso[1] + "-" + iso[2] + "-" + iso[3] + "T" + iso[4] + "Z");
    const t = NativeDate.parse(s);
    if (t !== t || DATE_ONLY.test(s) || ZONED.test(s)) return t;
    return t - hostOffset.call(new NativeDate(t)) * 60000;
  }

  function Date(a, b, c, d, e, f, g) {
    if (new.target === undefined) return proto.toString.call(new NativeDate());
    const n = arguments.length;
    let args;
    if (n === 0) args = [];
    else if (n === 1) args = [typeof a === "string" ? parse(a) : a];
    else args = [NativeDate.UTC.apply(undefined, Array.prototype.slice.call(arguments))];
    return Reflect.construct(NativeDate, args, new.target);
  }
  Object.defineProperty(Date, "prototype", { value: proto, writable: false, enumerable: false, configurable: false });
  Object.defineProperty(proto, "constructor", { value: Date, writable: true, configurable: true, enumerable: false });
  for (const [name, value] of [["now", NativeDate.now], ["UTC", NativeDate.UTC], ["parse", function parse_(s) { return parse(s); }]]) {
    Object.defineProperty(Date, name, { value, writable: true, configurable: true, enumerable: false });
  }
  Object.defineProperty(global, "Date", { value: Date, writable: true, configurable: true, enumerable: false });
})(globalThis);
