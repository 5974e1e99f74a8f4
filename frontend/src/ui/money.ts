/**
 * Money as the API sends it: decimal strings with an ISO 4217 currency. Nothing here turns an
 * amount into a float; formatting works on the digits (the integer part through BigInt).
 */

const AMOUNT = /^\d{1,15}(\.\d{1,10})?$/;

/**
 * What someone typed as an amount, as the API's decimal string, or null when it isn't one.
 * Accepts a comma as the decimal separator ("12,5") and spaces, apostrophes or the other
 * separator as digit grouping ("1 234,50", "1,234.50"). Never negative.
 */
export function parseAmount(input: string): string | null {
  let text = input.trim().replace(/[\s\u00a0\u202f']/g, "");
  if (text === "") return null;
  const lastDot = text.lastIndexOf(".");
  const lastComma = text.lastIndexOf(",");
  if (lastDot !== -1 && lastComma !== -1) {
    // Both present: the later one is the decimal separator, the other groups digits.
    const decimal = lastDot > lastComma ? "." : ",";
    const group = decimal === "." ? "," : ".";
    if (!validGrouping(text.slice(0, text.lastIndexOf(decimal)), group)) return null;
    text = text.split(group).join("").replace(decimal, ".");
  } else if (lastComma !== -1) {
    const commas = text.split(",").length - 1;
    if (commas > 1) {
      if (!validGrouping(text, ",")) return null;
      text = text.split(",").join("");
    } else {
      text = text.replace(",", ".");
    }
  } else if (text.split(".").length - 1 > 1) {
    if (!validGrouping(text, ".")) return null;
    text = text.split(".").join("");
  }
  if (!AMOUNT.test(text)) return null;
  // Canonical: no leading zeros in the integer part.
  const [integer = "0", fraction] = text.split(".");
  const whole = integer.replace(/^0+(?=\d)/, "");
  return fraction === undefined ? whole : `${whole}.${fraction}`;
}

function validGrouping(integer: string, separator: string): boolean {
  const groups = integer.split(separator);
  return (
    groups.length > 1 &&
    /^\d{1,3}$/.test(groups[0] ?? "") &&
    groups.slice(1).every((group) => /^\d{3}$/.test(group))
  );
}

/** Digits after the decimal point this currency uses (EUR 2, JPY 0, BHD 3). */
export function minorDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ??
      2
    );
  } catch {
    return 2;
  }
}

export function isCurrencyCode(value: string): boolean {
  if (!/^[A-Z]{3}$/.test(value)) return false;
  try {
    new Intl.NumberFormat("en", { style: "currency", currency: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * "1234.5" EUR → "€1,234.50" (in the user's locale). Pads to the currency's minor digits but
 * never rounds: an amount with more digits than usual shows them all.
 */
export function formatMoney(amount: string, currency: string, locale?: string): string {
  const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(amount.trim());
  if (!match) return `${amount} ${currency}`;
  const [, sign, integer = "0", fraction = ""] = match;
  let format: Intl.NumberFormat;
  try {
    format = new Intl.NumberFormat(locale, {
      style: "currency",
      currency,
      minimumFractionDigits: 0,
      maximumFractionDigits: 0,
    });
  } catch {
    return `${amount} ${currency}`;
  }
  const digits = fraction.padEnd(minorDigits(currency), "0");
  const value = BigInt(integer) * (sign ? -1n : 1n);
  const negativeZero = sign !== undefined && BigInt(integer) === 0n;
  const parts = format.formatToParts(value);
  const decimalSymbol =
    new Intl.NumberFormat(locale).formatToParts(1.5).find((part) => part.type === "decimal")?.value ?? ".";
  let out = "";
  let lastInteger = -1;
  parts.forEach((part, index) => {
    if (part.type === "integer") lastInteger = index;
  });
  parts.forEach((part, index) => {
    out += part.value;
    if (index === lastInteger && digits) out += decimalSymbol + digits;
  });
  if (negativeZero && !out.includes("-") && !out.includes("\u2212")) out = `-${out}`;
  return out;
}

/** Totals per currency, side by side — never added together. */
export function formatTotals(
  totals: readonly { currency: string; total: string }[],
  locale?: string,
): string {
  return totals.map((t) => formatMoney(t.total, t.currency, locale)).join(" · ");
}

/**
 * A decimal string as a number, for drawing only (bar heights). Every figure a person reads
 * comes from the string itself.
 */
export function amountForChart(amount: string): number {
  return Number(amount);
}
