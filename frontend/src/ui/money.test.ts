import { describe, expect, it } from "vitest";

import { formatMoney, formatTotals, isCurrencyCode, minorDigits, parseAmount } from "./money";

describe("parseAmount", () => {
  it.each([
    ["12.30", "12.30"],
    ["12", "12"],
    [" 7.5 ", "7.5"],
    ["12,5", "12.5"],
    ["0012.00", "12.00"],
    ["0.99", "0.99"],
    ["1 234,50", "1234.50"],
    ["1,234.50", "1234.50"],
    ["1.234,50", "1234.50"],
    ["1'234.50", "1234.50"],
    ["1,234,567", "1234567"],
    ["999999999999999.9999999999", "999999999999999.9999999999"],
  ])("reads %j as %j", (input, expected) => {
    expect(parseAmount(input)).toBe(expected);
  });

  it.each([
    "",
    "abc",
    "-5",
    "+5",
    "1e3",
    "12.",
    ".5",
    "1,23,4",
    "12.3.4.5",
    "1.2,3",
    "1234567890123456",
    "€12",
  ])("refuses %j", (input) => {
    expect(parseAmount(input)).toBeNull();
  });

  it("never goes through a float: digits beyond double precision survive", () => {
    expect(parseAmount("123456789012345.6789012345")).toBe("123456789012345.6789012345");
  });
});

describe("formatMoney", () => {
  it("pads to the currency's minor digits in the given locale", () => {
    expect(formatMoney("1234.5", "EUR", "en-US")).toBe("€1,234.50");
    expect(formatMoney("1234.5", "EUR", "de-DE")).toBe("1.234,50\u00a0€");
    expect(formatMoney("1500", "JPY", "en-US")).toBe("¥1,500");
    expect(formatMoney("0.5", "USD", "en-US")).toBe("$0.50");
  });

  it("keeps every digit instead of rounding through a float", () => {
    expect(formatMoney("123456789012345.67", "USD", "en-US")).toBe("$123,456,789,012,345.67");
    expect(formatMoney("0.125", "EUR", "en-US")).toBe("€0.125");
  });

  it("shows negative amounts (an overspent budget's remainder)", () => {
    expect(formatMoney("-3.10", "EUR", "en-US")).toBe("-€3.10");
    expect(formatMoney("-0.40", "EUR", "en-US")).toMatch(/^-€0\.40$/);
  });

  it("falls back to the raw text for what it can't format", () => {
    expect(formatMoney("n/a", "EUR", "en-US")).toBe("n/a EUR");
    expect(formatMoney("5", "???", "en-US")).toBe("5 ???");
  });

  it("lists currencies side by side, never summed", () => {
    expect(
      formatTotals(
        [
          { currency: "EUR", total: "10.00" },
          { currency: "USD", total: "5.00" },
        ],
        "en-US",
      ),
    ).toBe("€10.00 · $5.00");
  });
});

describe("currencies", () => {
  it("knows minor digits and valid codes", () => {
    expect(minorDigits("EUR")).toBe(2);
    expect(minorDigits("JPY")).toBe(0);
    expect(minorDigits("BHD")).toBe(3);
    expect(isCurrencyCode("EUR")).toBe(true);
    expect(isCurrencyCode("eur")).toBe(false);
    expect(isCurrencyCode("EURO")).toBe(false);
  });
});
