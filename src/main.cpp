#include <iostream>
int main() { std::cout << "tokengrow\n"; return 0; }
