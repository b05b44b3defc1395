// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract SmokeTest {
    function test_math() public pure {
        require(1 + 1 == 2, "math");
    }
}
