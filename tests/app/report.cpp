// Tests for src/train/report.cpp. The JSON is read back with a strict RFC 8259 parser and
// the SVG with a small XML well-formedness checker, both written here so that the
// writers are judged by code that shares nothing with them.
#include "doctest/doctest.h"

#include "bt/app/report.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace bt::app;
namespace fs = std::filesystem;

namespace {

// ================================================================ a strict JSON reader

struct Json {
    enum Type { Null, Bool, Number, String, Array, Object } type = Null;
    bool b = false;
    double n = 0;
    std::string s;
    std::vector<Json> a;
    std::vector<std::pair<std::string, Json>> o;  // in document order
    const Json& operator[](const std::string& key) const {
        for (const auto& [k, v] : o)
            if (k == key) return v;
        throw std::runtime_error("JSON: no key \"" + key + "\"");
    }
    const Json& operator[](std::size_t i) const { return a.at(i); }
    std::vector<std::string> keys() const {
        std::vector<std::string> out;
        for (const auto& kv : o) out.push_back(kv.first);
        return out;
    }
};

struct JsonParser {
    const std::string& t;
    std::size_t p = 0;
    [[noreturn]] void fail(const char* what) const {
        throw std::runtime_error(std::string("JSON: ") + what + " at offset " + std::to_string(p));
    }
    void ws() {
        while (p < t.size() && (t[p] == ' ' || t[p] == '\t' || t[p] == '\n' || t[p] == '\r')) ++p;
    }
    void expect(char c) {
        if (p >= t.size() || t[p] != c) fail("unexpected character");
        ++p;
    }
    Json value() {
        ws();
        if (p >= t.size()) fail("unexpected end");
        Json v;
        const char c = t[p];
        if (c == '{') {
            v.type = Json::Object;
            ++p;
            ws();
            if (p < t.size() && t[p] == '}') return ++p, v;
            for (;;) {
                ws();
                std::string k = string();
                for (const auto& kv : v.o)
                    if (kv.first == k) fail("duplicate key");
                ws();
                expect(':');
                v.o.emplace_back(k, value());
                ws();
                if (p < t.size() && t[p] == ',') { ++p; continue; }
                expect('}');
                return v;
            }
        }
        if (c == '[') {
            v.type = Json::Array;
            ++p;
            ws();
            if (p < t.size() && t[p] == ']') return ++p, v;
            for (;;) {
                v.a.push_back(value());
                ws();
                if (p < t.size() && t[p] == ',') { ++p; continue; }
                expect(']');
                return v;
            }
        }
        if (c == '"') return v.type = Json::String, v.s = string(), v;
        for (const char* lit : {"null", "true", "false"})
            if (t.compare(p, std::strlen(lit), lit) == 0) {
                p += std::strlen(lit);
                v.type = lit[0] == 'n' ? Json::Null : Json::Bool;
                v.b = lit[0] == 't';
                return v;
            }
        return number();
    }
    Json number() {  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
        const std::size_t start = p;
        auto digits = [&] {
            const std::size_t s = p;
            while (p < t.size() && t[p] >= '0' && t[p] <= '9') ++p;
            if (p == s) fail("digit expected");
        };
        if (t[p] == '-') ++p;
        if (p < t.size() && t[p] == '0') ++p;
        else digits();
        if (p < t.size() && t[p] == '.') ++p, digits();
        if (p < t.size() && (t[p] == 'e' || t[p] == 'E')) {
            ++p;
            if (p < t.size() && (t[p] == '+' || t[p] == '-')) ++p;
            digits();
        }
        Json v;
        v.type = Json::Number;
        v.n = std::strtod(t.substr(start, p - start).c_str(), nullptr);
        return v;
    }
    unsigned hex4() {
        if (p + 4 > t.size()) fail("short \\u escape");
        const std::string h = t.substr(p, 4);
        if (h.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) fail("bad \\u escape");
        p += 4;
        return static_cast<unsigned>(std::stoul(h, nullptr, 16));
    }
    std::string string() {
        expect('"');
        std::string out;
        for (;;) {
            if (p >= t.size()) fail("unterminated string");
            const auto c = static_cast<unsigned char>(t[p++]);
            if (c == '"') return out;
            if (c < 0x20) fail("raw control character in string");
            if (c != '\\') { out += static_cast<char>(c); continue; }
            if (p >= t.size()) fail("unterminated escape");
            const char e = t[p++];
            const char* simple = std::strchr("\"\\/bfnrt", e);
            if (e != 0 && simple) { out += "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]; continue; }
            if (e != 'u') fail("bad escape");
            unsigned cp = hex4();
            if (cp >= 0xD800 && cp < 0xDC00) {  // surrogate pair
                if (t.compare(p, 2, "\\u") != 0) fail("lone surrogate");
                p += 2;
                const unsigned lo = hex4();
                if (lo < 0xDC00 || lo > 0xDFFF) fail("bad low surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail("lone low surrogate");
            }
            if (cp < 0x80) out += static_cast<char>(cp);
            else if (cp < 0x800) out += static_cast<char>(0xC0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3F));
            else if (cp < 0x10000) out += static_cast<char>(0xE0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), out += static_cast<char>(0x80 | (cp & 0x3F));
            else out += static_cast<char>(0xF0 | (cp >> 18)), out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
};

// Strict UTF-8 (RFC 3629): what RFC 8259 requires of JSON text exchanged between systems.
bool valid_utf8(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        const std::size_t len = b < 0x80 ? 1 : (b >> 5) == 6 && b >= 0xC2 ? 2 : (b >> 4) == 14 ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        unsigned cp = len == 1 ? b : b & (0xFFu >> (len + 1));
        for (std::size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3Fu);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += len;
    }
    return true;
}

Json parse_json(const std::string& text) {
    if (!valid_utf8(text)) throw std::runtime_error("JSON: not valid UTF-8");
    JsonParser ps{text};
    Json v = ps.value();
    ps.ws();
    if (ps.p != text.size()) ps.fail("trailing characters");
    return v;
}

// ================================================================ an XML well-formedness checker

struct Element {
    std::string name;
    std::map<std::string, std::string> attr;  // unescaped
    std::string text;                         // unescaped direct text content
};

// Replaces the five predefined entities and numeric references; throws on anything else
// (a raw '<' or '&' that the writer forgot to escape).
std::string xml_unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '<') throw std::runtime_error("XML: raw '<' in text or attribute");
        if (s[i] != '&') { out += s[i]; continue; }
        const std::size_t semi = s.find(';', i);
        if (semi == std::string::npos) throw std::runtime_error("XML: unterminated entity");
        const std::string ent = s.substr(i + 1, semi - i - 1);
        static const std::map<std::string, std::string> named = {
            {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
        if (named.count(ent)) out += named.at(ent);
        else if (ent.size() > 1 && ent[0] == '#') out += '?';  // numeric references: accepted, not decoded
        else throw std::runtime_error("XML: unknown entity &" + ent + ";");
        i = semi;
    }
    return out;
}

// Parses a document made of an optional XML declaration, comments, elements and text.
// Checks: tags balanced and properly nested, one root, attributes quoted and unique,
// entities valid, no control characters XML 1.0 forbids. Returns elements in order.
std::vector<Element> parse_xml(const std::string& doc) {
    for (const char ch : doc)
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\r' && ch != '\t')
            throw std::runtime_error("XML: forbidden control character");
    std::vector<Element> elems;
    std::vector<std::size_t> stack;  // indices into elems
    std::size_t p = 0, roots = 0;
    if (doc.compare(0, 5, "<?xml") == 0) p = doc.find("?>") + 2;
    while (p < doc.size()) {
        const std::size_t lt = doc.find('<', p);
        const std::string text = doc.substr(p, (lt == std::string::npos ? doc.size() : lt) - p);
        if (stack.empty() && text.find_first_not_of(" \n\r\t") != std::string::npos)
            throw std::runtime_error("XML: text outside the root element");
        if (!stack.empty()) elems[stack.back()].text += xml_unescape(text);
        if (lt == std::string::npos) break;
        if (doc.compare(lt, 4, "<!--") == 0) { p = doc.find("-->", lt) + 3; continue; }
        const std::size_t gt = doc.find('>', lt);
        if (gt == std::string::npos) throw std::runtime_error("XML: unterminated tag");
        std::string tag = doc.substr(lt + 1, gt - lt - 1);
        p = gt + 1;
        if (!tag.empty() && tag[0] == '/') {
            if (stack.empty() || elems[stack.back()].name != tag.substr(1))
                throw std::runtime_error("XML: mismatched closing tag </" + tag.substr(1) + ">");
            stack.pop_back();
            continue;
        }
        const bool self_closing = !tag.empty() && tag.back() == '/';
        if (self_closing) tag.pop_back();
        Element e;
        std::size_t q = 0;
        while (q < tag.size() && !std::isspace(static_cast<unsigned char>(tag[q]))) ++q;
        e.name = tag.substr(0, q);
        if (e.name.empty() || !std::isalpha(static_cast<unsigned char>(e.name[0])))
            throw std::runtime_error("XML: bad element name '" + e.name + "'");
        for (;;) {  // attributes: name="value"
            while (q < tag.size() && std::isspace(static_cast<unsigned char>(tag[q]))) ++q;
            if (q >= tag.size()) break;
            const std::size_t eq = tag.find('=', q);
            if (eq == std::string::npos || eq + 1 >= tag.size() || (tag[eq + 1] != '"' && tag[eq + 1] != '\''))
                throw std::runtime_error("XML: unquoted attribute in <" + e.name + ">");
            const std::size_t close = tag.find(tag[eq + 1], eq + 2);
            if (close == std::string::npos) throw std::runtime_error("XML: unterminated attribute value");
            const std::string key = tag.substr(q, eq - q);
            if (key.empty() || key.find_first_of(" \t\n\"'<&") != std::string::npos)
                throw std::runtime_error("XML: bad attribute name '" + key + "'");
            if (!e.attr.emplace(key, xml_unescape(tag.substr(eq + 2, close - eq - 2))).second)
                throw std::runtime_error("XML: duplicate attribute " + key);
            q = close + 1;
            if (q < tag.size() && !std::isspace(static_cast<unsigned char>(tag[q])))
                throw std::runtime_error("XML: no space between attributes");
        }
        if (stack.empty() && ++roots > 1) throw std::runtime_error("XML: more than one root element");
        elems.push_back(e);
        if (!self_closing) stack.push_back(elems.size() - 1);
    }
    if (!stack.empty()) throw std::runtime_error("XML: unclosed <" + elems[stack.back()].name + ">");
    if (roots != 1) throw std::runtime_error("XML: no root element");
    return elems;
}

bool is_finite_number(const std::string& s) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    return !s.empty() && end == s.c_str() + s.size() && std::isfinite(v);
}

// Every geometric attribute is a finite number and every path is made of M/L commands
// with finite coordinates (a NAN or inf that leaked through shows up here).
void check_geometry(const std::vector<Element>& elems) {
    for (const Element& e : elems) {
        for (const char* a : {"x", "y", "width", "height", "x1", "y1", "x2", "y2", "cx", "cy", "r", "font-size"}) {
            const auto it = e.attr.find(a);
            if (it != e.attr.end() && !is_finite_number(it->second))
                FAIL("<" << e.name << "> " << a << "=\"" << it->second << "\" is not a finite number");
        }
        if (e.name == "path") {
            std::istringstream in(e.attr.at("d"));
            std::string tok;
            while (in >> tok) {
                if (tok[0] == 'M' || tok[0] == 'L') tok = tok.substr(1);
                CHECK_MESSAGE(is_finite_number(tok), "path coordinate '" << tok << "'");
            }
        }
    }
}

std::size_t count(const std::vector<Element>& elems, const std::string& name, const std::string& cls = "") {
    std::size_t n = 0;
    for (const Element& e : elems)
        if (e.name == name && (cls.empty() || (e.attr.count("class") && e.attr.at("class") == cls))) ++n;
    return n;
}

std::string all_text(const std::vector<Element>& elems) {
    std::string out;
    for (const Element& e : elems) out += e.text + "\n";
    return out;
}

std::size_t occurrences(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
    return n;
}

// ================================================================ a synthetic run

RunReport sample_report(std::size_t classes, int epochs) {
    RunReport r;
    r.title = "BlindTuner encrypted fine-tuning";
    r.config = {{"preset", "N16_QP1546_H192"}, {"batch", "128"}, {"lr", "1.0"}, {"epochs", std::to_string(epochs)}};
    for (std::size_t k = 0; k < classes; ++k) r.class_names.push_back("class " + std::to_string(k));
    r.confusion.assign(classes, std::vector<long>(classes, 0));
    for (std::size_t i = 0; i < classes; ++i)
        for (std::size_t j = 0; j < classes; ++j) r.confusion[i][j] = i == j ? 90 + long(i) : long((i + 2 * j) % 4);
    r.acc_encrypted = 0.8125;
    r.acc_twin = 0.83;
    r.acc_exact = 0.8375;
    for (int e = 1; e <= epochs; ++e) {
        EpochRecord rec;
        rec.epoch = e;
        rec.steps = static_cast<std::size_t>(e) * 40;
        rec.train_loss = 2.3 / (1 + 0.3 * e);
        rec.val_loss = 2.3 / (1 + 0.25 * e) + 0.01;
        rec.twin_val_loss = 2.3 / (1 + 0.25 * e);
        rec.val_accuracy = 0.5 + 0.4 * (1 - std::exp(-0.3 * e));
        rec.seconds = 60.0 * e;
        r.epochs.push_back(rec);
    }
    r.seconds = {{"total", 3725.5}, {"keygen", 12.25}, {"features", 300}, {"encrypt", 45.5},
                 {"matmul", 1500}, {"softmax", 900}, {"bootstrap", 800}, {"update", 100}};
    r.steps = static_cast<std::size_t>(epochs) * 40;
    r.bootstraps = 321;
    r.train_size = 5120;
    r.val_size = 1024;
    r.test_size = 1000;
    r.classes = classes;
    r.peak_memory_bytes = std::size_t(3) << 30;
    r.key_bytes = {{"relin", 123456789}, {"galois", 9876543210ULL}, {"bootstrap", 5555555555ULL}};
    r.extra = {{"multiplications_per_step", 412}, {"rotations_per_step", 1830.5}};
    return r;
}

// A fresh empty directory, removed with everything in it at the end of the test.

}  // namespace

TEST_SUITE("app") {

// ================================================================ JSON

TEST_CASE("report: the JSON is valid and carries the DESIGN.md fields with their values") {
    const RunReport r = sample_report(3, 4);
    const std::string text = report_json(r);
    const Json j = parse_json(text);
    REQUIRE(j.type == Json::Object);
    CHECK(j["report_version"].n == kReportVersion);
    CHECK(j["title"].s == r.title);
    const Json& acc = j["accuracy"];
    CHECK(acc.keys() == std::vector<std::string>{"encrypted", "encrypted_unflooded", "float64_twin", "plaintext_exact"});
    CHECK(acc["encrypted"].n == 0.8125);
    CHECK(acc["float64_twin"].n == 0.83);
    CHECK(acc["plaintext_exact"].n == 0.8375);
    CHECK(j["seconds"].keys() ==
          std::vector<std::string>{"total", "keygen", "features", "encrypt", "matmul", "softmax", "bootstrap", "update"});
    CHECK(j["seconds"]["total"].n == 3725.5);
    CHECK(j["seconds"]["keygen"].n == 12.25);
    CHECK(j["steps"].n == 160);
    CHECK(j["bootstraps"].n == 321);
    CHECK(j["train_size"].n == 5120);
    CHECK(j["val_size"].n == 1024);
    CHECK(j["test_size"].n == 1000);
    CHECK(j["classes"].n == 3);
    CHECK(j["peak_memory_bytes"].n == double(std::size_t(3) << 30));
    CHECK(j["config"].keys() == std::vector<std::string>{"preset", "batch", "lr", "epochs"});
    CHECK(j["config"]["preset"].s == "N16_QP1546_H192");
    CHECK(j["config"]["batch"].type == Json::String);
    REQUIRE(j["class_names"].a.size() == 3);
    CHECK(j["class_names"][2].s == "class 2");
    REQUIRE(j["epochs"].a.size() == 4);
    const Json& e2 = j["epochs"][1];
    CHECK(e2.keys() == std::vector<std::string>{"epoch", "steps", "train_loss", "val_loss", "val_accuracy",
                                                 "twin_val_loss", "seconds"});
    CHECK(e2["epoch"].n == 2);
    CHECK(e2["steps"].n == 80);
    CHECK(e2["val_loss"].n == r.epochs[1].val_loss);
    CHECK(e2["twin_val_loss"].n == r.epochs[1].twin_val_loss);
    CHECK(e2["val_accuracy"].n == r.epochs[1].val_accuracy);
    REQUIRE(j["confusion"].a.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        REQUIRE(j["confusion"][i].a.size() == 3);
        for (std::size_t k = 0; k < 3; ++k) CHECK(j["confusion"][i][k].n == double(r.confusion[i][k]));
    }
    CHECK(j["key_bytes"]["galois"].n == 9876543210.0);
    CHECK(j["extra"]["rotations_per_step"].n == 1830.5);
    CHECK(text.back() == '\n');
}

TEST_CASE("report: seconds.total comes first and is null when it was not measured") {
    RunReport r = sample_report(2, 1);
    r.seconds = {{"keygen", 1.5}, {"total", 9.0}};
    Json j = parse_json(report_json(r));
    CHECK(j["seconds"].keys() == std::vector<std::string>{"total", "keygen"});
    CHECK(j["seconds"]["total"].n == 9.0);
    r.seconds = {{"keygen", 1.5}};
    j = parse_json(report_json(r));
    CHECK(j["seconds"]["total"].type == Json::Null);
    CHECK(j["seconds"]["keygen"].n == 1.5);
}

TEST_CASE("report: NAN and infinities are null; doubles read back to the same value") {
    RunReport r = sample_report(2, 3);
    r.acc_twin = NAN;
    r.epochs[1].twin_val_loss = NAN;
    r.epochs[2].train_loss = INFINITY;
    const std::vector<double> values = {0.1, 1.0 / 3, 1e-300, 5e-324, 6.02214076e23, -2.5e-7, 0.8125, 1e300};
    r.extra.clear();
    for (std::size_t i = 0; i < values.size(); ++i) r.extra.emplace_back("v" + std::to_string(i), values[i]);
    r.extra.emplace_back("neg_inf", -INFINITY);
    const Json j = parse_json(report_json(r));
    CHECK(j["accuracy"]["float64_twin"].type == Json::Null);
    CHECK(j["accuracy"]["encrypted"].type == Json::Number);
    CHECK(j["epochs"][1]["twin_val_loss"].type == Json::Null);
    CHECK(j["epochs"][1]["val_loss"].type == Json::Number);
    CHECK(j["epochs"][2]["train_loss"].type == Json::Null);
    CHECK(j["extra"]["neg_inf"].type == Json::Null);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const Json& v = j["extra"]["v" + std::to_string(i)];
        REQUIRE(v.type == Json::Number);
        CHECK_MESSAGE(v.n == values[i], "value " << i);  // bit-exact round trip
    }
}

TEST_CASE("report: strings are escaped per RFC 8259 and read back unchanged") {
    RunReport r = sample_report(2, 1);
    const std::string nasty = std::string("say \"hi\" \\ path C:\\x\n\ttab\r\b\f") + '\x01' + '\x1f' + "/ \xc3\xa9 \xe2\x82\xac";
    r.title = "run \"A\"\n";
    r.config = {{"weird \"key\"\\", nasty}, {"plain", "x"}};
    r.class_names = {"T-shirt/top", std::string("tab\there")};
    const std::string text = report_json(r);
    const Json j = parse_json(text);
    CHECK(j["title"].s == r.title);
    CHECK(j["config"]["weird \"key\"\\"].s == nasty);
    CHECK(j["class_names"][1].s == "tab\there");
    CHECK(text.find("\\u0001") != std::string::npos);
    CHECK(text.find("\\u001f") != std::string::npos);
    for (const char ch : text)  // only the line breaks of the layout are raw control characters
        CHECK_MESSAGE((static_cast<unsigned char>(ch) >= 0x20 || ch == '\n'), "raw byte " << int(ch));
}

TEST_CASE("report: invalid UTF-8 in a string becomes U+FFFD, so the JSON stays valid") {
    RunReport r = sample_report(2, 1);
    r.config = {{"name", std::string("a\xff" "b\xc3")}, {"overlong", "\xc0\xaf"}, {"overlong3", "\xe0\x80\xaf"},
                {"surrogate", "\xed\xa0\x80"}, {"too_big", "\xf4\x90\x80\x80"}, {"ok", "\xf0\x9f\x94\x92"}};
    const std::string text = report_json(r);
    REQUIRE(valid_utf8(text));
    const Json j = parse_json(text);
    CHECK(j["config"]["name"].s == "a\xef\xbf\xbd" "b\xef\xbf\xbd");
    CHECK(j["config"]["overlong"].s == "\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(j["config"]["surrogate"].s == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(j["config"]["overlong3"].s == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(j["config"]["too_big"].s == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(j["config"]["ok"].s == "\xf0\x9f\x94\x92");  // a valid 4-byte character passes through
}

TEST_CASE("report: the JSON of an empty report is valid and has every field") {
    const Json j = parse_json(report_json(RunReport{}));
    for (const char* k : {"accuracy", "seconds", "steps", "bootstraps", "train_size", "val_size", "test_size",
                          "classes", "config", "class_names", "epochs", "confusion", "key_bytes", "extra"})
        CHECK_NOTHROW(j[k]);
    CHECK(j["accuracy"]["encrypted"].type == Json::Null);
    CHECK(j["epochs"].a.empty());
    CHECK(j["confusion"].type == Json::Array);
}

TEST_CASE("report: inconsistent reports are refused with a message") {
    auto refused = [](const RunReport& r) {
        CHECK_THROWS_AS(report_json(r), std::invalid_argument);
        CHECK_THROWS_AS(report_svg(r), std::invalid_argument);
    };
    RunReport r = sample_report(3, 2);
    r.confusion[1].pop_back();
    refused(r);
    r = sample_report(3, 2);
    r.class_names.pop_back();
    refused(r);
    r = sample_report(3, 2);
    r.confusion[0][2] = -1;
    refused(r);
    r = sample_report(3, 2);
    r.config.emplace_back("batch", "64");
    refused(r);
    r = sample_report(3, 2);
    r.seconds.emplace_back("total", 1.0);
    refused(r);
    r = sample_report(3, 2);
    r.class_names.clear();  // allowed: classes are then named by number
    r.epochs.clear();       // (no epoch ticks, and no count below, reads "2")
    for (auto& row : r.confusion) row.assign(3, 7);
    CHECK_NOTHROW(report_json(r));
    CHECK(all_text(parse_xml(report_svg(r))).find("\n2\n") != std::string::npos);
}

// ================================================================ SVG

TEST_CASE("report: the SVG is well-formed with one cell per confusion entry and a path per series") {
    for (const std::size_t c : {std::size_t(2), std::size_t(5), std::size_t(10)})
        for (const int epochs : {1, 50}) {
            CAPTURE(c);
            CAPTURE(epochs);
            const RunReport r = sample_report(c, epochs);
            const std::string svg = report_svg(r);
            const auto elems = parse_xml(svg);
            CHECK(elems.front().name == "svg");
            CHECK(elems.front().attr.at("xmlns") == "http://www.w3.org/2000/svg");
            CHECK(count(elems, "rect", "cell") == c * c);
            CHECK(count(elems, "path", "series") == 4);  // loss: encrypted, twin, train; accuracy: encrypted
            check_geometry(elems);
            const std::string text = all_text(elems);
            for (std::size_t k = 0; k < c; ++k) CHECK(text.find("class " + std::to_string(k)) != std::string::npos);
            CHECK(text.find("81.25 %") != std::string::npos);  // encrypted test accuracy
            CHECK(text.find("83.75 %") != std::string::npos);  // plaintext exact
            CHECK(text.find("1 h 02 min") != std::string::npos);  // total time 3725.5 s
            CHECK(text.find("321 bootstraps") != std::string::npos);
            CHECK(text.find("matmul") != std::string::npos);
            CHECK(text.find(std::to_string(90 + c - 1)) != std::string::npos);  // last diagonal count
            // Self-contained: nothing to fetch, nothing to run.
            for (const char* bad : {"<script", "href", "url(", "@import", "<image", "<foreignObject", "<style"})
                CHECK_MESSAGE(svg.find(bad) == std::string::npos, bad);
            CHECK(occurrences(svg, "http") == 1);  // the SVG namespace only
        }
}

TEST_CASE("report: the SVG draws one epoch as a marked point and many epochs as one line") {
    auto encrypted_loss_path = [](const std::vector<Element>& elems) {
        for (const Element& e : elems)
            if (e.name == "path") return e.attr.at("d");  // the first series is the encrypted loss
        return std::string();
    };
    const auto one = parse_xml(report_svg(sample_report(3, 1)));
    const std::string d1 = encrypted_loss_path(one);
    CHECK(occurrences(d1, "M") == 1);
    CHECK(occurrences(d1, "L") == 0);
    CHECK(count(one, "circle") >= 4);  // each series' single point is marked
    const auto many = parse_xml(report_svg(sample_report(3, 50)));
    const std::string d50 = encrypted_loss_path(many);
    CHECK(occurrences(d50, "M") == 1);
    CHECK(occurrences(d50, "L") == 49);
}

TEST_CASE("report: NAN points are skipped, breaking the line; an all-NAN series is left out") {
    RunReport r = sample_report(4, 6);
    r.epochs[2].val_loss = NAN;  // encrypted loss: points 1-2, gap, 4-6
    r.epochs[5].val_accuracy = NAN;
    for (EpochRecord& e : r.epochs) {
        e.twin_val_loss = NAN;
        e.train_loss = NAN;
    }
    const std::string svg = report_svg(r);
    const auto elems = parse_xml(svg);
    check_geometry(elems);
    REQUIRE(count(elems, "path", "series") == 2);  // encrypted loss and accuracy only
    std::vector<std::string> ds;
    for (const Element& e : elems)
        if (e.name == "path") ds.push_back(e.attr.at("d"));
    CHECK(occurrences(ds[0], "M") == 2);
    CHECK(occurrences(ds[0], "L") == 3);
    CHECK(occurrences(ds[1], "M") == 1);
    CHECK(occurrences(ds[1], "L") == 4);
    const std::string text = all_text(elems);
    CHECK(text.find("float64 twin (val)") == std::string::npos);  // not in the legend
    CHECK(text.find("encrypted (val)") != std::string::npos);
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);
}

TEST_CASE("report: SVG text is escaped for XML and reads back unchanged") {
    RunReport r = sample_report(3, 2);
    r.title = "<b>run</b> & \"quotes\" 'too'";
    r.class_names = {"a<b", "c&d", "e\"f"};
    r.config = {{"note", "x < y && y > z"}, {"ctl", std::string("bell\x07")}};
    const std::string svg = report_svg(r);
    CHECK(svg.find("<b>") == std::string::npos);
    const auto elems = parse_xml(svg);  // throws on a raw '<' or '&' or a control character
    std::string title;
    for (const Element& e : elems)
        if (e.name == "title") title = e.text;
    CHECK(title == r.title);
    const std::string text = all_text(elems);
    CHECK(text.find("a<b") != std::string::npos);
    CHECK(text.find("c&d") != std::string::npos);
    CHECK(text.find("x < y && y > z") != std::string::npos);
}

TEST_CASE("report: the SVG leaves out the confusion panel when there is no matrix") {
    RunReport r = sample_report(3, 5);
    r.confusion.clear();
    const auto elems = parse_xml(report_svg(r));
    CHECK(count(elems, "rect", "cell") == 0);
    CHECK(all_text(elems).find("Confusion") == std::string::npos);
    CHECK(all_text(elems).find("Where the time went") != std::string::npos);
    // An empty report still renders a valid document with the header.
    const auto empty = parse_xml(report_svg(RunReport{}));
    CHECK(count(empty, "path", "series") == 0);
    check_geometry(empty);
    CHECK(all_text(empty).find("test accuracy") != std::string::npos);
}

TEST_CASE("report: time bars are proportional to the total") {
    RunReport r = sample_report(2, 2);
    r.seconds = {{"total", 100}, {"a", 50}, {"b", 25}, {"c", NAN}};
    const auto elems = parse_xml(report_svg(r));
    std::vector<double> widths;
    for (const Element& e : elems)
        if (e.name == "rect" && e.attr.count("class") && e.attr.at("class") == "bar")
            widths.push_back(std::stod(e.attr.at("width")));
    REQUIRE(widths.size() == 3);
    CHECK(widths[0] == doctest::Approx(2 * widths[1]).epsilon(0.01));
    CHECK(widths[1] > 0);
    CHECK(widths[2] == 0);
    CHECK(all_text(elems).find("50 %") != std::string::npos);
}

}  // TEST_SUITE("app")
