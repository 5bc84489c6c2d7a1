// Makes protobufjs decode 64-bit fields as plain numbers instead of Long
// objects. It must be evaluated before the generated code, which reads
// util.Long when it is loaded; index.js imports it first for that reason.
import $protobuf from "protobufjs/minimal.js";

$protobuf.util.Long = undefined;
$protobuf.configure();
