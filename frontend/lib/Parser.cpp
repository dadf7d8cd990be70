//===- Parser.cpp - Lexer and recursive-descent parser of .attn files ---------===//
//
//   file      := pattern*
//   pattern   := 'attention' NAME '{' item* '}'
//   item      := 'mask' expr | 'score' expr
//              | 'normalize' ('softmax' | 'sigmoid' | 'none') ['(' 'scale' '=' NUMBER ')']
//   expr      := or;  or := and ('||' and)*;  and := cmp ('&&' cmp)*
//   cmp       := add [('<' | '<=' | '>' | '>=' | '==' | '!=') add]
//   add       := mul (('+' | '-') mul)*;  mul := unary (('*' | '/' | '%') unary)*
//   unary     := ('-' | '!') unary | primary
//   primary   := NUMBER | NAME | NAME '(' [expr (',' expr)*] ')' | '(' expr ')'
// '#' starts a comment to the end of the line. Names are checked later, by MLIRGen.
//
//===----------------------------------------------------------------------===//
#include "attn/Frontend/Parser.h"

#include "llvm/ADT/StringSwitch.h"

#include <cctype>
#include <cstdlib>

using namespace attnc;
using namespace attnc::ast;
using llvm::SMLoc;
using llvm::SourceMgr;
using llvm::StringRef;

namespace {

struct Token {
  enum class Kind { End, Name, Number, Punct, Error };
  Kind kind = Kind::End;
  StringRef text;
  SMLoc loc;
};

class Lexer {
public:
  explicit Lexer(StringRef buffer) : buffer(buffer), pos(0) {}

  Token next() {
    skipSpaceAndComments();
    Token tok;
    tok.loc = SMLoc::getFromPointer(buffer.data() + pos);
    if (pos >= buffer.size())
      return tok;
    char c = buffer[pos];
    size_t start = pos;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (pos < buffer.size() &&
             (std::isalnum(static_cast<unsigned char>(buffer[pos])) || buffer[pos] == '_'))
        ++pos;
      tok.kind = Token::Kind::Name;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && pos + 1 < buffer.size() &&
                std::isdigit(static_cast<unsigned char>(buffer[pos + 1])))) {
      lexNumber();
      tok.kind = Token::Kind::Number;
    } else {
      static const char *twoChar[] = {"<=", ">=", "==", "!=", "&&", "||"};
      tok.kind = Token::Kind::Punct;
      pos += 1;
      for (const char *p : twoChar)
        if (buffer.substr(start).starts_with(p)) {
          pos = start + 2;
          break;
        }
      if (pos == start + 1 && !StringRef("{}()+-*/%<>!,:=").contains(c))
        tok.kind = Token::Kind::Error;
    }
    tok.text = buffer.slice(start, pos);
    return tok;
  }

private:
  void skipSpaceAndComments() {
    while (pos < buffer.size()) {
      if (std::isspace(static_cast<unsigned char>(buffer[pos]))) {
        ++pos;
      } else if (buffer[pos] == '#') {
        while (pos < buffer.size() && buffer[pos] != '\n')
          ++pos;
      } else {
        return;
      }
    }
  }
  void lexNumber() {
    auto digits = [&] {
      while (pos < buffer.size() && std::isdigit(static_cast<unsigned char>(buffer[pos])))
        ++pos;
    };
    digits();
    if (pos < buffer.size() && buffer[pos] == '.') {
      ++pos;
      digits();
    }
    if (pos < buffer.size() && (buffer[pos] == 'e' || buffer[pos] == 'E')) {
      size_t save = pos++;
      if (pos < buffer.size() && (buffer[pos] == '+' || buffer[pos] == '-'))
        ++pos;
      if (pos < buffer.size() && std::isdigit(static_cast<unsigned char>(buffer[pos])))
        digits();
      else
        pos = save;
    }
  }

  StringRef buffer;
  size_t pos;
};

class Parser {
public:
  explicit Parser(SourceMgr &sourceMgr)
      : sourceMgr(sourceMgr),
        lexer(sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBuffer()) {
    advance();
  }

  std::optional<File> parseFile() {
    File file;
    while (tok.kind != Token::Kind::End) {
      std::optional<Pattern> pattern = parsePattern();
      if (!pattern)
        return std::nullopt;
      file.patterns.push_back(std::move(*pattern));
    }
    if (file.patterns.empty()) {
      error(tok.loc, "expected 'attention NAME { ... }'");
      return std::nullopt;
    }
    return file;
  }

private:
  void advance() {
    tok = lexer.next();
    if (tok.kind == Token::Kind::Error)
      error(tok.loc, "unexpected character '" + tok.text.str() + "'");
  }
  bool is(StringRef text) const {
    return (tok.kind == Token::Kind::Punct || tok.kind == Token::Kind::Name) && tok.text == text;
  }
  bool consume(StringRef text) {
    if (!is(text))
      return false;
    advance();
    return true;
  }
  bool expect(StringRef text, StringRef context) {
    if (consume(text))
      return true;
    error(tok.loc, "expected '" + text.str() + "' " + context.str() + ", found " + describe());
    return false;
  }
  std::string describe() const {
    if (tok.kind == Token::Kind::End)
      return "end of file";
    return "'" + tok.text.str() + "'";
  }
  std::nullopt_t error(SMLoc loc, const llvm::Twine &message) {
    if (!failed)
      sourceMgr.PrintMessage(loc, SourceMgr::DK_Error, message);
    failed = true;
    return std::nullopt;
  }

  std::optional<Pattern> parsePattern() {
    if (!is("attention"))
      return error(tok.loc, "expected 'attention', found " + describe());
    advance();
    Pattern pattern;
    pattern.loc = tok.loc;
    if (tok.kind != Token::Kind::Name)
      return error(tok.loc, "expected a pattern name after 'attention', found " + describe());
    pattern.name = tok.text.str();
    advance();
    if (!expect("{", "to open the pattern body"))
      return std::nullopt;
    while (!is("}")) {
      if (tok.kind == Token::Kind::End)
        return error(tok.loc, "expected '}' to close pattern '" + pattern.name + "'");
      if (!parseItem(pattern))
        return std::nullopt;
    }
    advance();
    if (!pattern.normalizer)
      pattern.normalizer = Normalizer::Softmax;
    return failed ? std::nullopt : std::optional<Pattern>(std::move(pattern));
  }

  bool parseItem(Pattern &pattern) {
    SMLoc loc = tok.loc;
    if (consume("mask"))
      return parseClause(pattern.mask, loc, "mask");
    if (consume("score"))
      return parseClause(pattern.score, loc, "score");
    if (consume("normalize"))
      return parseNormalize(pattern, loc);
    error(loc, "expected 'mask', 'score' or 'normalize', found " + describe());
    return false;
  }

  bool parseClause(ExprPtr &slot, SMLoc loc, StringRef what) {
    if (slot) {
      error(loc, "pattern has more than one '" + what.str() + "'");
      return false;
    }
    slot = parseExpr();
    return slot != nullptr;
  }

  bool parseNormalize(Pattern &pattern, SMLoc loc) {
    if (pattern.normalizer) {
      error(loc, "pattern has more than one 'normalize'");
      return false;
    }
    pattern.normalizerLoc = tok.loc;
    std::optional<Normalizer> kind = llvm::StringSwitch<std::optional<Normalizer>>(tok.text)
                                         .Case("softmax", Normalizer::Softmax)
                                         .Case("sigmoid", Normalizer::Sigmoid)
                                         .Case("none", Normalizer::None)
                                         .Default(std::nullopt);
    if (tok.kind != Token::Kind::Name || !kind) {
      error(tok.loc,
            "expected 'softmax', 'sigmoid' or 'none' after 'normalize', found " + describe());
      return false;
    }
    pattern.normalizer = kind;
    advance();
    if (!consume("("))
      return true;
    if (!expect("scale", "in normalizer options") || !expect("=", "after 'scale'"))
      return false;
    SMLoc numLoc = tok.loc;
    if (tok.kind != Token::Kind::Number) {
      error(tok.loc, "expected a number for 'scale', found " + describe());
      return false;
    }
    double value = std::strtod(tok.text.str().c_str(), nullptr);
    if (!(value > 0.0)) {
      error(numLoc, "'scale' must be positive");
      return false;
    }
    pattern.scale = value;
    advance();
    return expect(")", "to close the normalizer options");
  }

  ExprPtr makeNode(Expr::Kind kind, SMLoc loc, std::string name, std::vector<ExprPtr> operands) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = loc;
    e->name = std::move(name);
    e->operands = std::move(operands);
    return e;
  }

  ExprPtr parseExpr() { return parseBinary(0); }

  /// Precedence climbing over the binary operator levels, loosest first.
  ExprPtr parseBinary(int level) {
    static const std::vector<std::vector<StringRef>> levels = {
        {"||"}, {"&&"}, {"<", "<=", ">", ">=", "==", "!="}, {"+", "-"}, {"*", "/", "%"}};
    if (level == static_cast<int>(levels.size()))
      return parseUnary();
    ExprPtr lhs = parseBinary(level + 1);
    while (lhs && tok.kind == Token::Kind::Punct && llvm::is_contained(levels[level], tok.text)) {
      std::string op = tok.text.str();
      SMLoc loc = tok.loc;
      advance();
      ExprPtr rhs = parseBinary(level + 1);
      if (!rhs)
        return nullptr;
      std::vector<ExprPtr> operands;
      operands.push_back(std::move(lhs));
      operands.push_back(std::move(rhs));
      lhs = makeNode(Expr::Kind::Binary, loc, op, std::move(operands));
      if (level == 2 && tok.kind == Token::Kind::Punct &&
          llvm::is_contained(levels[level], tok.text)) {
        error(tok.loc, "comparisons do not chain; combine them with '&&'");
        return nullptr;
      }
    }
    return lhs;
  }

  ExprPtr parseUnary() {
    if (is("-") || is("!")) {
      std::string op = tok.text.str();
      SMLoc loc = tok.loc;
      advance();
      ExprPtr operand = parseUnary();
      if (!operand)
        return nullptr;
      std::vector<ExprPtr> operands;
      operands.push_back(std::move(operand));
      return makeNode(Expr::Kind::Unary, loc, op, std::move(operands));
    }
    return parsePrimary();
  }

  ExprPtr parsePrimary() {
    SMLoc loc = tok.loc;
    if (tok.kind == Token::Kind::Number) {
      auto e = makeNode(Expr::Kind::Number, loc, "", {});
      e->number = std::strtod(tok.text.str().c_str(), nullptr);
      e->isInteger = tok.text.find_first_of(".eE") == StringRef::npos;
      advance();
      return e;
    }
    if (tok.kind == Token::Kind::Name) {
      std::string name = tok.text.str();
      advance();
      if (!consume("("))
        return makeNode(Expr::Kind::Name, loc, name, {});
      std::vector<ExprPtr> args;
      if (!is(")")) {
        do {
          ExprPtr arg = parseExpr();
          if (!arg)
            return nullptr;
          args.push_back(std::move(arg));
        } while (consume(","));
      }
      if (!expect(")", "to close the call of '" + name + "'"))
        return nullptr;
      return makeNode(Expr::Kind::Call, loc, name, std::move(args));
    }
    if (consume("(")) {
      ExprPtr inner = parseExpr();
      if (!inner || !expect(")", "to close '('"))
        return nullptr;
      return inner;
    }
    error(loc, "expected an expression, found " + describe());
    return nullptr;
  }

  SourceMgr &sourceMgr;
  Lexer lexer;
  Token tok;
  bool failed = false;
};

} // namespace

std::optional<File> attnc::parseAttnFile(SourceMgr &sourceMgr) {
  Parser parser(sourceMgr);
  return parser.parseFile();
}
