fn main() {
    println!("vnetlab: under construction");
}
