// Just enough JSON for the worker protocol: JsonWriter builds the requests (nested objects and
// arrays, escaped strings, numbers that read back as the same double), JsonReply reads the flat
// reply objects the worker sends (strings, numbers, booleans, null; nested values are skipped).
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace unshutter {

inline std::string json_quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

// The shortest of %.15g, %.16g, %.17g that reads back as the same double, sign of zero included
// (JSON has no NaN or infinity: those are written as null).
inline std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    if (v == 0.0 && std::signbit(v)) return "-0.0";  // "-0" reads back as the integer 0
    char buf[32];
    for (int digits = 15; digits <= 17; ++digits) {
        std::snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

// Writes one JSON value, ", " and ": " between items as the worker's own logs do:
//   JsonWriter w; w.begin_object().key("op").str("render").key("size").begin_array().integer(4).end_array()
//    .end_object();  ->  {"op": "render", "size": [4]}
// Calls must nest properly (a key before each value in an object); text() is the document once closed.
class JsonWriter {
public:
    JsonWriter& begin_object() {
        open('{');
        return *this;
    }
    JsonWriter& end_object() {
        close('}');
        return *this;
    }
    JsonWriter& begin_array() {
        open('[');
        return *this;
    }
    JsonWriter& end_array() {
        close(']');
        return *this;
    }
    JsonWriter& key(const std::string& k) {
        separate();
        out_ += json_quote(k) + ": ";
        after_key_ = true;
        return *this;
    }
    JsonWriter& str(const std::string& v) { return raw(json_quote(v)); }
    JsonWriter& number(double v) { return raw(json_number(v)); }
    JsonWriter& integer(long long v) { return raw(std::to_string(v)); }
    JsonWriter& boolean(bool v) { return raw(v ? "true" : "false"); }
    JsonWriter& null() { return raw("null"); }
    const std::string& text() const { return out_; }

private:
    void separate() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (!first_.empty()) {
            if (!first_.back()) out_ += ", ";
            first_.back() = false;
        }
    }
    JsonWriter& raw(const std::string& text) {
        separate();
        out_ += text;
        return *this;
    }
    void open(char c) {
        separate();
        out_ += c;
        first_.push_back(true);
    }
    void close(char c) {
        out_ += c;
        if (!first_.empty()) first_.pop_back();
    }

    std::string out_;
    std::vector<bool> first_;  // per open object/array: nothing written in it yet
    bool after_key_ = false;
};

// A flat JSON object: key -> raw scalar text ("true", "12", or a decoded string).
class JsonReply {
public:
    bool parse(const std::string& text) {
        values_.clear();
        pos_ = 0;
        s_ = &text;
        skip_ws();
        if (!eat('{')) return false;
        skip_ws();
        if (eat('}')) return true;
        while (true) {
            skip_ws();
            std::string key;
            if (!read_string(key)) return false;
            skip_ws();
            if (!eat(':')) return false;
            skip_ws();
            std::string value;
            if (!read_value(value)) return false;
            values_[key] = value;
            skip_ws();
            if (eat(',')) continue;
            if (eat('}')) return true;
            return false;
        }
    }
    bool has(const std::string& k) const { return values_.count(k) != 0; }
    std::string str(const std::string& k, const std::string& dflt = "") const {
        auto it = values_.find(k);
        return it == values_.end() ? dflt : it->second;
    }
    bool boolean(const std::string& k) const { return str(k) == "true"; }
    long long integer(const std::string& k, long long dflt = 0) const {
        auto it = values_.find(k);
        if (it == values_.end()) return dflt;
        try {
            return std::stoll(it->second);
        } catch (...) {
            return dflt;
        }
    }

private:
    bool eat(char c) {
        if (pos_ < s_->size() && (*s_)[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void skip_ws() {
        while (pos_ < s_->size() &&
               ((*s_)[pos_] == ' ' || (*s_)[pos_] == '\n' || (*s_)[pos_] == '\t' || (*s_)[pos_] == '\r'))
            ++pos_;
    }
    bool read_string(std::string& out) {
        if (!eat('"')) return false;
        while (pos_ < s_->size()) {
            char c = (*s_)[pos_++];
            if (c == '"') return true;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_->size()) return false;
            char e = (*s_)[pos_++];
            switch (e) {
                case 'n':
                    out += '\n';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'u': {
                    if (pos_ + 4 > s_->size()) return false;
                    unsigned cp = std::stoul(s_->substr(pos_, 4), nullptr, 16);
                    pos_ += 4;
                    if (cp < 0x80)
                        out += static_cast<char>(cp);
                    else if (cp < 0x800) {
                        out += static_cast<char>(0xC0 | (cp >> 6));
                        out += static_cast<char>(0x80 | (cp & 0x3F));
                    } else {
                        out += static_cast<char>(0xE0 | (cp >> 12));
                        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                        out += static_cast<char>(0x80 | (cp & 0x3F));
                    }
                    break;
                }
                default:
                    out += e;
            }
        }
        return false;
    }
    bool skip_nested() {
        int depth = 0;
        while (pos_ < s_->size()) {
            char c = (*s_)[pos_];
            if (c == '"') {
                std::string dummy;
                if (!read_string(dummy)) return false;
                continue;
            }
            ++pos_;
            if (c == '{' || c == '[')
                ++depth;
            else if (c == '}' || c == ']') {
                if (--depth == 0) return true;
            }
        }
        return false;
    }
    bool read_value(std::string& out) {
        if (pos_ >= s_->size()) return false;
        char c = (*s_)[pos_];
        if (c == '"') return read_string(out);
        if (c == '{' || c == '[') return skip_nested();
        size_t start = pos_;
        while (pos_ < s_->size() && (*s_)[pos_] != ',' && (*s_)[pos_] != '}' && (*s_)[pos_] != ' ') ++pos_;
        out = s_->substr(start, pos_ - start);
        return !out.empty();
    }

    std::map<std::string, std::string> values_;
    const std::string* s_ = nullptr;
    size_t pos_ = 0;
};

}  // namespace unshutter
