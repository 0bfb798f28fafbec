'use strict';

/**
 * What a declaration file declares (index.d.ts unless `file`, a path from the repository's root,
 * says another), read with the TypeScript compiler's own parser (typescript is a dev
 * dependency), for the suites that check a declared list against the one the package exports or
 * documents. A declaration of another shape than the one asked for throws, so a check cannot
 * pass by reading nothing.
 *
 *   const { declaredObject, declaredUnion } = require('./helpers/declarations');
 *
 * declaredObject(name, file) -> [[property, value], ...]
 *   The members of `export declare const <name>: { readonly P: 'v', ... }`, in order; every
 *   member must be a string literal.
 * declaredUnion(name, file) -> { values: ['a', ...], doc: text }
 *   `export type <name> = 'a' | 'b' | Other | ...`: its string literals in order (those of another
 *   union type of the file it names included), and the comment before it (its JSDoc).
 * declaredAlias(name, file) -> text
 *   The right side of `export type <name> = ...`, as written.
 * declaredMembers(name, file) -> ['member', ...]
 *   The names of the members of `export interface <name>`, in order.
 * declaredExports(file) -> ['name', ...]
 *   The names of the file's exported functions and constants, in order.
 * stringLiteralTypes(file) -> ['a', ...]
 *   Every string literal type in the file (comments are not read), in order.
 */

const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const ROOT = path.join(__dirname, '..', '..');

function parsed(file = 'index.d.ts') {
  const full = path.join(ROOT, file);
  return ts.createSourceFile(full, fs.readFileSync(full, 'utf8'), ts.ScriptTarget.Latest, true);
}

/** The string of a string-literal type node; throws for any other type. */
function stringLiteral(node, where) {
  if (!(ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal))) {
    throw new TypeError(`${where}: ${node.getText()} is not a string literal type`);
  }
  return node.literal.text;
}

function typeAlias(source, name) {
  const alias = source.statements.find((s) => ts.isTypeAliasDeclaration(s) && s.name.text === name);
  if (!alias) throw new TypeError(`${path.basename(source.fileName)} declares no type ${name}`);
  return alias;
}

function declaredObject(name, file) {
  const source = parsed(file);
  const declaration = source.statements.filter(ts.isVariableStatement)
    .flatMap((s) => s.declarationList.declarations)
    .find((d) => ts.isIdentifier(d.name) && d.name.text === name);
  if (!declaration) throw new TypeError(`no const ${name} is declared`);
  if (!(declaration.type && ts.isTypeLiteralNode(declaration.type))) {
    throw new TypeError(`${name}: its type is not an object type literal`);
  }
  return declaration.type.members.map((member) => {
    if (!(ts.isPropertySignature(member) && member.type && ts.isIdentifier(member.name))) {
      throw new TypeError(`${name}: ${member.getText()} is not a named property`);
    }
    return [member.name.text, stringLiteral(member.type, `${name}.${member.name.text}`)];
  });
}

function declaredUnion(name, file) {
  const source = parsed(file);
  const literals = (typeName) => {
    const { type } = typeAlias(source, typeName);
    return (ts.isUnionTypeNode(type) ? type.types : [type]).flatMap((m) => (
      ts.isTypeReferenceNode(m) && ts.isIdentifier(m.typeName) ? literals(m.typeName.text) : [stringLiteral(m, typeName)]));
  };
  const alias = typeAlias(source, name);
  return { values: literals(name), doc: source.text.slice(alias.getFullStart(), alias.getStart()) };
}

const declaredAlias = (name, file) => typeAlias(parsed(file), name).type.getText();

function declaredMembers(name, file) {
  const source = parsed(file);
  const declaration = source.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === name);
  if (!declaration) throw new TypeError(`no interface ${name} is declared`);
  return declaration.members.map((member) => {
    if (!(member.name && ts.isIdentifier(member.name))) throw new TypeError(`${name}: ${member.getText()} has no name`);
    return member.name.text;
  });
}

function declaredExports(file) {
  return parsed(file).statements.flatMap((s) => {
    if (!s.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) return [];
    if (ts.isFunctionDeclaration(s)) return [s.name.text];
    if (ts.isVariableStatement(s)) return s.declarationList.declarations.map((d) => d.name.getText());
    return [];
  });
}

function stringLiteralTypes(file) {
  const found = [];
  const visit = (node) => {
    if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) found.push(node.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(parsed(file));
  return found;
}

module.exports = {
  declaredObject, declaredUnion, declaredAlias, declaredMembers, declaredExports, stringLiteralTypes,
};
