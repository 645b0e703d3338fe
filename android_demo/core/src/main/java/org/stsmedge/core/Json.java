package org.stsmedge.core;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, strict JSON reader and writer (RFC 8259), so the core needs no library.
 *
 * <p>Objects read as {@code LinkedHashMap<String, Object>} (key order kept), arrays as {@code
 * List<Object>}, numbers as {@code Long} when they are integers that fit, else {@code Double}
 * (parsed by {@link Double#parseDouble}, so Python's {@code repr} floats round-trip exactly),
 * strings, booleans and {@code null}.
 */
public final class Json {
  private final String text;
  private int pos;

  private Json(String text) {
    this.text = text;
  }

  /** Parses one JSON document; trailing non-whitespace is an error. */
  public static Object parse(String text) {
    Json parser = new Json(text);
    parser.skipWhitespace();
    Object value = parser.readValue();
    parser.skipWhitespace();
    if (parser.pos != text.length()) {
      throw parser.error("unexpected trailing characters");
    }
    return value;
  }

  /** Parses a document that must be an object. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> parseObject(String text) {
    Object value = parse(text);
    if (!(value instanceof Map)) {
      throw new IllegalArgumentException("JSON document is not an object");
    }
    return (Map<String, Object>) value;
  }

  private IllegalArgumentException error(String message) {
    int line = 1;
    for (int i = 0; i < Math.min(pos, text.length()); i++) {
      if (text.charAt(i) == '\n') {
        line++;
      }
    }
    return new IllegalArgumentException("invalid JSON: " + message + " at line " + line + " (offset " + pos + ")");
  }

  private void skipWhitespace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        pos++;
      } else {
        break;
      }
    }
  }

  private Object readValue() {
    if (pos >= text.length()) {
      throw error("unexpected end of input");
    }
    char c = text.charAt(pos);
    switch (c) {
      case '{':
        return readObject();
      case '[':
        return readArray();
      case '"':
        return readString();
      case 't':
        expectWord("true");
        return Boolean.TRUE;
      case 'f':
        expectWord("false");
        return Boolean.FALSE;
      case 'n':
        expectWord("null");
        return null;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          return readNumber();
        }
        throw error("unexpected character '" + c + "'");
    }
  }

  private void expectWord(String word) {
    if (!text.startsWith(word, pos)) {
      throw error("expected " + word);
    }
    pos += word.length();
  }

  private Map<String, Object> readObject() {
    Map<String, Object> map = new LinkedHashMap<>();
    pos++; // {
    skipWhitespace();
    if (pos < text.length() && text.charAt(pos) == '}') {
      pos++;
      return map;
    }
    while (true) {
      skipWhitespace();
      if (pos >= text.length() || text.charAt(pos) != '"') {
        throw error("expected a string key");
      }
      String key = readString();
      skipWhitespace();
      if (pos >= text.length() || text.charAt(pos) != ':') {
        throw error("expected ':'");
      }
      pos++;
      skipWhitespace();
      map.put(key, readValue());
      skipWhitespace();
      if (pos >= text.length()) {
        throw error("unterminated object");
      }
      char c = text.charAt(pos++);
      if (c == '}') {
        return map;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or '}'");
      }
    }
  }

  private List<Object> readArray() {
    List<Object> list = new ArrayList<>();
    pos++; // [
    skipWhitespace();
    if (pos < text.length() && text.charAt(pos) == ']') {
      pos++;
      return list;
    }
    while (true) {
      skipWhitespace();
      list.add(readValue());
      skipWhitespace();
      if (pos >= text.length()) {
        throw error("unterminated array");
      }
      char c = text.charAt(pos++);
      if (c == ']') {
        return list;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or ']'");
      }
    }
  }

  private String readString() {
    StringBuilder out = new StringBuilder();
    pos++; // opening quote
    while (true) {
      if (pos >= text.length()) {
        throw error("unterminated string");
      }
      char c = text.charAt(pos++);
      if (c == '"') {
        return out.toString();
      }
      if (c < 0x20) {
        pos--;
        throw error("control character in string");
      }
      if (c != '\\') {
        out.append(c);
        continue;
      }
      if (pos >= text.length()) {
        throw error("unterminated escape");
      }
      char e = text.charAt(pos++);
      switch (e) {
        case '"': out.append('"'); break;
        case '\\': out.append('\\'); break;
        case '/': out.append('/'); break;
        case 'b': out.append('\b'); break;
        case 'f': out.append('\f'); break;
        case 'n': out.append('\n'); break;
        case 'r': out.append('\r'); break;
        case 't': out.append('\t'); break;
        case 'u':
          if (pos + 4 > text.length()) {
            throw error("short \\u escape");
          }
          try {
            out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
          } catch (NumberFormatException exc) {
            throw error("bad \\u escape");
          }
          pos += 4;
          break;
        default:
          pos--;
          throw error("bad escape '\\" + e + "'");
      }
    }
  }

  private Object readNumber() {
    int start = pos;
    if (text.charAt(pos) == '-') {
      pos++;
    }
    int digitsStart = pos;
    while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
      pos++;
    }
    if (pos == digitsStart) {
      throw error("expected digits");
    }
    if (text.charAt(digitsStart) == '0' && pos - digitsStart > 1) {
      throw error("leading zero");
    }
    boolean integral = true;
    if (pos < text.length() && text.charAt(pos) == '.') {
      integral = false;
      pos++;
      int fracStart = pos;
      while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
        pos++;
      }
      if (pos == fracStart) {
        throw error("expected fraction digits");
      }
    }
    if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
      integral = false;
      pos++;
      if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
        pos++;
      }
      int expStart = pos;
      while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
        pos++;
      }
      if (pos == expStart) {
        throw error("expected exponent digits");
      }
    }
    String literal = text.substring(start, pos);
    if (integral) {
      try {
        return Long.parseLong(literal);
      } catch (NumberFormatException exc) {
        return Double.parseDouble(literal); // beyond long: keep as a double
      }
    }
    return Double.parseDouble(literal);
  }

  // ---- writing ----------------------------------------------------------------------------------

  /** Compact JSON; maps and lists nest, numbers print exactly (shortest repr for doubles). */
  public static String write(Object value) {
    StringBuilder out = new StringBuilder();
    write(value, out, -1, 0);
    return out.toString();
  }

  /** Indented JSON (2 spaces), trailing newline. */
  public static String writePretty(Object value) {
    StringBuilder out = new StringBuilder();
    write(value, out, 2, 0);
    return out.append('\n').toString();
  }

  private static void newline(StringBuilder out, int indent, int depth) {
    if (indent >= 0) {
      out.append('\n');
      for (int i = 0; i < indent * depth; i++) {
        out.append(' ');
      }
    }
  }

  private static void write(Object value, StringBuilder out, int indent, int depth) {
    if (value == null) {
      out.append("null");
    } else if (value instanceof String) {
      writeString((String) value, out);
    } else if (value instanceof Boolean) {
      out.append(value.toString());
    } else if (value instanceof Double || value instanceof Float) {
      double d = ((Number) value).doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        out.append("null"); // JSON has no NaN / Infinity
      } else {
        out.append(value instanceof Float ? Float.toString((Float) value) : Double.toString(d));
      }
    } else if (value instanceof BigDecimal) {
      out.append(((BigDecimal) value).toPlainString());
    } else if (value instanceof Number) {
      out.append(((Number) value).longValue());
    } else if (value instanceof Map) {
      Map<?, ?> map = (Map<?, ?>) value;
      out.append('{');
      Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
      boolean first = true;
      while (it.hasNext()) {
        Map.Entry<?, ?> entry = it.next();
        if (!first) {
          out.append(',');
        }
        first = false;
        newline(out, indent, depth + 1);
        writeString(String.valueOf(entry.getKey()), out);
        out.append(indent >= 0 ? ": " : ":");
        write(entry.getValue(), out, indent, depth + 1);
      }
      if (!map.isEmpty()) {
        newline(out, indent, depth);
      }
      out.append('}');
    } else if (value instanceof List) {
      List<?> list = (List<?>) value;
      out.append('[');
      for (int i = 0; i < list.size(); i++) {
        if (i > 0) {
          out.append(',');
        }
        newline(out, indent, depth + 1);
        write(list.get(i), out, indent, depth + 1);
      }
      if (!list.isEmpty()) {
        newline(out, indent, depth);
      }
      out.append(']');
    } else {
      throw new IllegalArgumentException("cannot write " + value.getClass().getName() + " as JSON");
    }
  }

  private static void writeString(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
      }
    }
    out.append('"');
  }

  // ---- typed access helpers (used by Metadata and the tests) --------------------------------------

  static Object require(Map<String, Object> map, String key, String where) {
    if (!map.containsKey(key)) {
      throw new MetadataException(where + ": missing key '" + key + "'");
    }
    return map.get(key);
  }

  /** A JSON number as a double (integers included). */
  public static double number(Object value, String what) {
    if (!(value instanceof Number)) {
      throw new MetadataException(what + " must be a number");
    }
    return ((Number) value).doubleValue();
  }

  /** A JSON integer as a long (refuses fractions). */
  public static long integer(Object value, String what) {
    if (!(value instanceof Long)) {
      throw new MetadataException(what + " must be an integer");
    }
    return (Long) value;
  }
}
